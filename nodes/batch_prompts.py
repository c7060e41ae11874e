"""StyleAlignedBatchPrompts: one prompt per latent row, reference first."""


import torch
from comfy_api.latest import io

from ..core.alignment.prompt_set import apply_style, batch_rows, parse_prompt_lines, stack_rows
from .families import FAMILIES
from .model_family import STYLE_REFERENCE
from .ui import ADVANCED, outputs, shown

MAX_RESOLUTION = 16384
SD_LATENT = (4, 8)  # channels and pixels per cell of SD1.5 / SDXL latents, and of any text encoder no record names
DEFAULT_GUIDANCE = 3.5  # the host's CLIPTextEncodeFlux / FluxGuidance default
DEFAULT_LENGTH = 49  # video frames of a clip (Wan: 4k + 1), as the host's Wan22ImageToVideoLatent
PROMPT_SET = "STYLE_ALIGNED_PROMPT_SET"


def reference_rows(style_reference):
    """Reference rows at the start of every batch: the saved reference's K, or the first prompt line."""
    return 1 if style_reference is None else style_reference.ref_count


class PromptSet:
    """A whole prompt list as the batch-prompts node was set up for it: `window(start, size)` builds any window
    exactly as the node would with those window_start / window_size (the Set Sampler samples a long list window
    by window, each bit for bit what queueing that window by hand gives), from the prompts the node encoded
    already: each prompt is encoded once, however many windows it is in."""

    def __init__(self, inputs, count, encode):
        self.inputs = inputs  # the node's inputs but the window
        self.count = count  # prompt lines (or conditioning rows), the reference first
        self.encode = encode  # the node's encoder, which keeps what it encoded

    @property
    def refs(self):
        """Reference rows at the start of every window."""
        return reference_rows(self.inputs["style_reference"])

    def window(self, start, size):
        """(positive, latent) of the window of `size` targets from target `start`."""
        (positive, latent, *_), _ = build_batch(**self.inputs, window_start=start, window_size=size,
                                                encode=self.encode)
        return positive, latent


def text_encoder_family(clip):
    """The DiT family record (families/) whose text encoder `clip` holds (the class of clip.cond_stage_model
    or one of its bases), or None for SD1.5, SDXL and encoders no record names."""
    for cls in type(clip.cond_stage_model).__mro__:
        for family in FAMILIES:
            if (cls.__module__, cls.__name__) in family.text_encoders:
                return family
    return None


def latent_format(family):
    """(channels, pixels per latent cell) of an empty latent for the family. DiT latents are 4-D as the host's
    EmptySD3LatentImage makes them (the sampler adds the frame axis of one-frame models such as Qwen-Image)."""
    return SD_LATENT if family is None else (family.latent_channels, family.latent_scale)


def _encode(clip, text):
    """(cond, extras) of one prompt as the host encodes it: extras hold the pooled output (None where the
    encoder has none) and whatever else the encoder returns (attention masks, hooks)."""
    tokens = clip.tokenize(text)
    out = clip.encode_from_tokens(tokens, return_pooled=True, return_dict=True)
    return out.pop("cond"), out


def remembering_encoder(clip):
    """encode(text) -> (cond, extras) of `clip`, each distinct text encoded once (the empty prompt that pads
    rows, and every prompt the windows of one list share)."""
    encoded = {}

    def encode(text):
        if text not in encoded:
            encoded[text] = _encode(clip, text)
        return encoded[text]

    return encode


def _stacked_extras(extras, lengths, empty_length, family=None):
    """One conditioning dict for the stacked rows from each row's encoder extras (in row order).

    Pooled outputs and other per-prompt tensors are concatenated row by row; an attention mask is
    stacked like the tokens (rows without one are all ones, padding tokens are attended), and one that
    hides nothing is one integer row, as the host's encoders give it for one prompt (a model that counts
    its text tokens from the mask sums all of it: a row per prompt would count every row's tokens);
    values that are the same for every prompt (hooks) are kept once. Per family: no mask where its model
    cannot take one, its token extras padded with zeros; lists of tensors (an edit's reference latents) are
    stacked item by item."""
    out = {}
    for key in dict.fromkeys(k for e in extras for k in e):
        values = [e.get(key) for e in extras]
        if key == "attention_mask" and family is not None and not family.text_mask:
            continue
        if family is not None and key in family.token_extras:
            out[key] = _zero_padded(values, key)
        elif all(isinstance(v, list) for v in values) and any(values):
            out[key] = _stacked_lists(values, key)
        elif key == "attention_mask":
            masks = [torch.ones(1, n) if m is None else m.float() for m, n in zip(values, lengths, strict=True)]
            mask = stack_rows([m[..., None] for m in masks], lambda: torch.ones(1, empty_length(), 1))[..., 0]
            out[key] = torch.ones(1, mask.shape[1], dtype=torch.long) if bool((mask == 1).all()) else mask
        elif all(isinstance(v, torch.Tensor) for v in values):
            if len({v.shape for v in values}) > 1 or values[0].shape[0] != 1:
                raise ValueError(f"the text encoder returns a '{key}' whose shape differs between prompts: "
                                 "this node cannot put the prompts into one batch; encode them separately")
            out[key] = torch.cat(values)
        elif not any(isinstance(v, torch.Tensor) for v in values) and all(v is values[0] or v == values[0]
                                                                           for v in values):
            out[key] = values[0]
        else:
            raise ValueError(f"the text encoder returns a '{key}' that differs between prompts: this node "
                             "cannot put the prompts into one batch; encode them separately")
    return out


def _zeros_before(conds):
    """Per-prompt conditionings (1, T_i, C) as one (B, max T_i, C), zeros in front of the shorter ones: how a model
    that pads its text itself pads it (FLUX.2, to 512 tokens), so the model sees each row as that prompt alone."""
    length = max(c.shape[1] for c in conds)
    return torch.cat([torch.nn.functional.pad(c, (0, 0, length - c.shape[1], 0)) for c in conds])


def _zero_padded(values, key):
    """Per-prompt token rows (1, T_i, C) or None as one (B, max T_i, C) tensor, zeros after each row's tokens
    and for prompts without any."""
    present = [v for v in values if v is not None]
    if any(v.ndim != 3 or v.shape[0] != 1 for v in present):
        raise ValueError(f"the text encoder returns a '{key}' that is not one row of tokens per prompt: this node "
                         "cannot put the prompts into one batch; encode them separately")
    out = present[0].new_zeros(len(values), max(v.shape[1] for v in present), present[0].shape[2])
    for row, value in enumerate(values):
        if value is not None:
            out[row, :value.shape[1]] = value[0]
    return out


def _stacked_lists(values, key):
    """Each row's list of tensors (one batch row each, such as the reference latents of an edit) as one list
    whose items hold every row, in row order."""
    if len({len(v) for v in values}) > 1:
        raise ValueError(f"conditioning: the rows carry different numbers of '{key}' ({[len(v) for v in values]}): "
                         "give every row the same number of images")
    stacked = []
    for items in zip(*values, strict=True):
        shapes = {tuple(t.shape) for t in items}
        if len(shapes) > 1 or any(t.shape[0] != 1 for t in items):
            raise ValueError(f"conditioning: the rows' '{key}' differ in size ({sorted(shapes)}): scale every "
                             "image to one width and height (Image Scale) before encoding, they are one batch")
        stacked.append(torch.cat(items))
    return stacked


_AREA_KEYS = ("width", "height", "target_width", "target_height", "crop_w", "crop_h")  # this node sets them


def _rows_of(conditioning):
    """(cond, extras) of every entry of a CONDITIONING (Conditioning (Combine) lists them in order), each one row."""
    rows = []
    for cond, extra in conditioning:
        if cond.shape[0] != 1:
            raise ValueError(f"conditioning: an entry holds {cond.shape[0]} rows; combine one text-encode node per "
                             "row (Conditioning (Combine)), the reference first")
        rows.append((cond, {k: v for k, v in extra.items() if k not in _AREA_KEYS}))
    return rows


def _row_names(prompts, count):
    """The prompt lines naming `count` conditioning rows, or row numbers where they do not name each one."""
    lines = [line.strip() for line in prompts.splitlines() if line.strip()]
    return lines if len(lines) == count else [f"row {i + 1}" for i in range(count)]


def _edit_size(extra, scale):
    """(height, width) in pixels of the rows' first reference latents (an edit's images), or None."""
    references = extra.get("reference_latents")
    return None if not references else tuple(scale * n for n in references[0].shape[-2:])


def _row_notes(rows, prompts, style):
    """What the conditioning rows make the node ignore, said on the node."""
    if rows is None:
        return []
    notes = [] if not style.strip() else ["style is not used: the conditioning rows are encoded already"]
    named = len([line for line in prompts.splitlines() if line.strip()])
    if named and named != len(rows):
        notes.append(f"the prompt lines do not name the {len(rows)} conditioning rows one by one: the prompts "
                     "output lists them as row 1, row 2, ...")
    return notes


def batch_notes(count, window_start, width, height, latent_given, scale=8):
    """Settings that are silently ignored or changed, said on the node."""
    notes = []
    if count == 1:
        notes.append("only the reference prompt: the batch has no target image to align; add prompts, one per line")
        if window_start:
            notes.append(f"window_start {window_start} is ignored: there is no target prompt")
    for name, value in (("width", width), ("height", height)):
        if value % scale and not latent_given:
            notes.append(f"{name} {value} is not a multiple of {scale}: the images will be {value // scale * scale} px")
    return notes


def _checked_latent(latent, rows):
    samples = latent["samples"]
    if samples.shape[0] != rows:
        raise ValueError(f"latent has {samples.shape[0]} rows but this batch has {rows} prompts (reference rows "
                         "first, then the window's targets): give the latent one row per prompt, or leave it "
                         "unconnected")
    return {**latent, "batch_index": latent.get("batch_index", list(range(rows)))}


def _empty_latent(rows, channels, scale, height, width, family, length, reference):
    """An empty latent batch: images (rows, C, H, W); a video family's clips (rows, C, frames, H, W) of `length`
    video frames, or of a reference clip's shape (its channels too: a Wan 2.2 5B reference is 48 at 1/16). Empty
    clips carry the host's `downscale_ratio_spacial` (as its EmptyHunyuanLatentVideo), by which newer samplers
    fit them to a model of another latent format."""
    if family is None or not family.temporal_scale:
        return {"samples": torch.zeros(rows, channels, height // scale, width // scale)}
    if reference is not None:  # a clip (C, T, H, W), or one frame (C, H, W)
        shape = reference.latent_shape
        return {"samples": torch.zeros(rows, shape[0], *shape[1:-2] or (1,), *shape[-2:])}
    frames = (max(length, 1) - 1) // family.temporal_scale + 1
    return {"samples": torch.zeros(rows, channels, frames, height // scale, width // scale),
            "downscale_ratio_spacial": scale}


def build_batch(clip, prompts, style, width, height, window_start, window_size, latent, style_reference, guidance,
                conditioning, length, encode):
    """((positive, latent, prompt names, prompts in the list), notes) of one window of the batch-prompts node;
    `encode(text)` encodes a prompt with `clip`."""
    family = text_encoder_family(clip)
    rows = None if conditioning is None else _rows_of(conditioning)  # already encoded, one per entry
    lines = parse_prompt_lines(prompts) if rows is None else _row_names(prompts, len(rows))
    prompt_rows, noise_rows = batch_rows(len(lines), window_start, window_size, reference_rows(style_reference))
    encoded = {i: rows[i] if rows is not None else encode(apply_style(lines[i], style))
               for i in sorted(set(prompt_rows))}

    def empty_cond():  # encoded only where rows are padded
        return encode("")[0]

    conds = [encoded[i][0] for i in prompt_rows]
    if family is not None and family.text_padding == "zeros before":
        cond = _zeros_before(conds)
    else:
        cond = stack_rows(conds, empty_cond)
    channels, scale = latent_format(family)
    lengths = [encoded[i][0].shape[1] for i in prompt_rows]
    stacked = _stacked_extras([encoded[i][1] for i in prompt_rows], lengths, lambda: empty_cond().shape[1],
                              family)
    edit_size = None if rows is None else _edit_size(stacked, scale)
    notes = batch_notes(len(lines), window_start, width, height,
                        latent is not None or style_reference is not None or edit_size is not None, scale)
    notes += _row_notes(rows, prompts, style)
    if latent is not None:
        latent = _checked_latent(latent, len(prompt_rows))
        height, width = (scale * n for n in latent["samples"].shape[-2:])
    elif style_reference is not None:
        *_, h, w = style_reference.latent_shape
        height, width = scale * h, scale * w
    elif edit_size is not None:  # the edit images' size, as the host's edit workflows take it
        height, width = edit_size
    extra = {"width": width, "height": height, "target_width": width, "target_height": height,
             "crop_w": 0, "crop_h": 0, **stacked}
    if family is not None and family.guidance:  # as CLIPTextEncodeFlux; a FluxGuidance node after this wins
        extra["guidance"] = guidance
    if latent is None:
        latent = {**_empty_latent(len(prompt_rows), channels, scale, height, width, family, length,
                                  style_reference), "batch_index": noise_rows}
    return ([[cond, extra]], latent, "\n".join(lines[i] for i in prompt_rows), len(lines)), notes


class StyleAlignedBatchPrompts(io.ComfyNode):
    DETAILS = (  # on the help page
        "For sets larger than one batch, connect prompt_set to Style Aligned Set Sampler (one press), or queue "
        "several windows: each batch keeps the reference as row 0 with the same noise, so all batches share one "
        "style. Works with the text encoder of every supported family; the latent fits the family (its channels "
        "and scale; clips of 'length' frames on Wan)."
    )

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StyleAlignedBatchPrompts",
            display_name="Style Aligned Batch Prompts",
            category="style_aligned",
            description=(
                "Turns a list of prompts (one per line) into one conditioning row per prompt and an empty "
                "latent batch of the same size. The first line is the style reference (row 0); the optional "
                "style text is added to every prompt."
            ),
            inputs=[
                io.Clip.Input("clip", tooltip="The text encoder of your checkpoint or CLIP loader; it also tells the "
                              "model family, which shapes the latent (4 channels for SD1.5 / SDXL, 16 for Flux, SD3 "
                              "and Qwen-Image, 128 at 1/16 for FLUX.2, clips for Wan)."),
                io.String.Input("prompts", multiline=True, default="a house\na cat\na bicycle\na mountain lake",
                                tooltip="One prompt per line. The first line is the reference whose style every "
                                        "other image takes."),
                io.String.Input("style", multiline=True, default="minimal flat illustration, pastel colours",
                                tooltip="Added to every prompt after a comma, or a template with {prompt} (e.g. "
                                        "'a watercolor of {prompt}'). May be empty."),
                io.Int.Input("width", default=1024, min=64, max=MAX_RESOLUTION, step=8,
                             tooltip="Image width in pixels (512 for SD1.5; 1024 for SDXL, Flux and most DiTs)."),
                io.Int.Input("height", default=1024, min=64, max=MAX_RESOLUTION, step=8,
                             tooltip="Image height in pixels."),
                io.Int.Input("window_start", default=0, min=0, max=100000,
                             tooltip="First target prompt of this batch (0 = the line after the reference). Queue "
                                     "several windows for long lists.", **ADVANCED),
                io.Int.Input("window_size", default=0, min=0, max=4096,
                             tooltip="Number of target prompts in this batch besides the reference (0 = all "
                                     "remaining).", **ADVANCED),
                io.Latent.Input("latent", optional=True,
                                tooltip="Use this latent instead of an empty one (e.g. VAE-encoded images); it "
                                        "needs one row per prompt of this batch. Width and height are then taken "
                                        "from it."),
                io.Custom(STYLE_REFERENCE).Input(
                    "style_reference", optional=True,
                    tooltip="An inverted reference of K images: the batch then starts with K reference rows (all "
                            "with the first prompt, which should describe the reference) and takes the "
                            "reference's size."),
                io.Float.Input("guidance", optional=True, default=DEFAULT_GUIDANCE, min=0.0, max=100.0, step=0.1,
                               tooltip="Flux only (ignored by other text encoders): the guidance of a "
                                       "guidance-distilled Flux model, as CLIPTextEncodeFlux sets it; sample at "
                                       "cfg 1. FluxGuidance after this node replaces it; Flux schnell ignores it.",
                               **ADVANCED),
                io.Conditioning.Input("conditioning", optional=True,
                                      tooltip="Rows encoded by other nodes instead of the prompt lines: one row per "
                                              "entry, in order, the reference first (chain Conditioning (Combine) "
                                              "over one text-encode node per row, e.g. Qwen-Image-Edit's edits of "
                                              "different images, all scaled to one size). The prompt lines then "
                                              "only name the rows; the latent takes the edit images' size."),
                io.Int.Input("length", optional=True, default=DEFAULT_LENGTH, min=1, max=MAX_RESOLUTION, step=4,
                             tooltip="Video models only (Wan; ignored by image models): video frames per clip, 4k + "
                                     "1 (49 = 13 latent frames). A connected style_reference or latent sets it "
                                     "instead. The empty clips are Wan 2.1's (16 channels at 1/8); current hosts' "
                                     "samplers fit them to Wan 2.2 5B (48 at 1/16); on ComfyUI 0.3 give the 5B "
                                     "Wan22ImageToVideoLatent's latent through Repeat Latent Batch.", **ADVANCED),
            ],
            outputs=outputs(
                (io.Conditioning, "positive", "One conditioning row per prompt of this batch, the reference first."),
                (io.Latent, "latent", "An empty latent with one row per prompt, shaped for the model family as its "
                 "own empty-latent node makes it; its noise per row depends only on the prompt's place in the "
                 "list.", "latent_out"),
                (io.String, "prompts", "The prompts of this batch (without the style text), one per line, for the "
                 "metric nodes.", "prompts_out"),
                (io.Custom(PROMPT_SET), "prompt_set", "The whole prompt list with these settings, for Style Aligned "
                 "Set Sampler, which samples it window by window in one press."),
            ),
        )

    @classmethod
    def execute(cls, clip, prompts, style, width, height, window_start, window_size, latent=None,
               style_reference=None, guidance=DEFAULT_GUIDANCE, conditioning=None, length=DEFAULT_LENGTH):
        if clip is None:
            raise ValueError("clip is missing: connect the CLIP output of your checkpoint loader")
        inputs = dict(clip=clip, prompts=prompts, style=style, width=width, height=height, latent=latent,
                      style_reference=style_reference, guidance=guidance, conditioning=conditioning, length=length)
        encode = remembering_encoder(clip)
        (positive, latent, names, count), notes = build_batch(**inputs, window_start=window_start,
                                                              window_size=window_size, encode=encode)
        return shown((positive, latent, names, PromptSet(inputs, count, encode)), notes)


NODES = [StyleAlignedBatchPrompts]
