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


def _stacked_extras(extras, lengths, empty_length):
    """One conditioning dict for the stacked rows from each row's encoder extras (in row order).

    Pooled outputs and other per-prompt tensors are concatenated row by row; an attention mask is
    stacked like the tokens (rows without one are all ones, padding tokens are attended), and one that
    hides nothing is one integer row, as the host's encoders give it for one prompt (models that count
    the text tokens from it, Boogu's, sum the whole mask, so a row per prompt would count them all);
    values that are the same for every prompt (hooks) are kept once."""
    out = {}
    for key in dict.fromkeys(k for e in extras for k in e):
        values = [e.get(key) for e in extras]
        if key == "attention_mask":
            masks = [torch.ones(1, n) if m is None else m.float() for m, n in zip(values, lengths, strict=True)]
            mask = stack_rows([m[..., None] for m in masks], lambda: torch.ones(1, empty_length(), 1))[..., 0]
            out[key] = torch.ones(1, mask.shape[1], dtype=torch.long) if bool((mask == 1).all()) else mask
        elif all(isinstance(v, torch.Tensor) for v in values):
            if len({v.shape for v in values}) > 1 or values[0].shape[0] != 1:
                raise ValueError(f"the text encoder returns a '{key}' whose shape differs between prompts: "
                                 "this node cannot put the prompts into one batch; encode them separately")
            out[key] = torch.cat(values)
        elif key == "pooled_output" and all(v is None for v in values):  # Qwen-Image has none
            continue
        elif not any(isinstance(v, torch.Tensor) for v in values) and all(v is values[0] or v == values[0]
                                                                           for v in values):
            out[key] = values[0]
        else:
            raise ValueError(f"the text encoder returns a '{key}' that differs between prompts: this node "
                             "cannot put the prompts into one batch; encode them separately")
    return out


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


class StyleAlignedBatchPrompts(io.ComfyNode):
    DETAILS = (  # on the help page
        "For sets larger than one batch, queue several windows: each batch keeps the reference as row 0 with "
        "the same noise, so all batches share one style. Works with the text encoders of SD1.5, SDXL, Flux, "
        "SD3 and Qwen-Image; the latent fits the family."
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
                io.Clip.Input("clip", tooltip="The text encoder of your checkpoint or CLIP loader (SD1.5, SDXL, "
                              "Flux, SD3 or Qwen-Image); it also decides the latent's channels (16 for Flux, SD3 "
                              "and Qwen-Image, else 4)."),
                io.String.Input("prompts", multiline=True, default="a house\na cat\na bicycle\na mountain lake",
                                tooltip="One prompt per line. The first line is the reference whose style every "
                                        "other image takes."),
                io.String.Input("style", multiline=True, default="minimal flat illustration, pastel colours",
                                tooltip="Added to every prompt after a comma, or a template with {prompt} (e.g. "
                                        "'a watercolor of {prompt}'). May be empty."),
                io.Int.Input("width", default=1024, min=64, max=MAX_RESOLUTION, step=8,
                             tooltip="Image width in pixels (512 for SD1.5; 1024 for SDXL, Flux, SD3 and "
                                     "Qwen-Image)."),
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
            ],
            outputs=outputs(
                (io.Conditioning, "positive", "One conditioning row per prompt of this batch, the reference first."),
                (io.Latent, "latent", "An empty latent with one row per prompt (4 channels for SD1.5/SDXL, 16 for "
                 "Flux, SD3 and Qwen-Image, as EmptySD3LatentImage); its noise per row depends only on the "
                 "prompt's place in the list.", "latent_out"),
                (io.String, "prompts", "The prompts of this batch (without the style text), one per line, for the "
                 "metric nodes.", "prompts_out"),
            ),
        )

    @classmethod
    def execute(cls, clip, prompts, style, width, height, window_start, window_size, latent=None,
               style_reference=None, guidance=DEFAULT_GUIDANCE):
        if clip is None:
            raise ValueError("clip is missing: connect the CLIP output of your checkpoint loader")
        family = text_encoder_family(clip)
        lines = parse_prompt_lines(prompts)
        refs = 1 if style_reference is None else style_reference.ref_count
        prompt_rows, noise_rows = batch_rows(len(lines), window_start, window_size, refs)
        encoded = {i: _encode(clip, apply_style(lines[i], style)) for i in sorted(set(prompt_rows))}
        empty = []  # the empty prompt, encoded once and only when rows are padded

        def empty_cond():
            if not empty:
                empty.append(_encode(clip, "")[0])
            return empty[0]

        cond = stack_rows([encoded[i][0] for i in prompt_rows], empty_cond)
        channels, scale = latent_format(family)
        notes = batch_notes(len(lines), window_start, width, height, latent is not None or style_reference is not None,
                            scale)
        if latent is not None:
            latent = _checked_latent(latent, len(prompt_rows))
            height, width = (scale * n for n in latent["samples"].shape[-2:])
        elif style_reference is not None:
            *_, h, w = style_reference.latent_shape
            height, width = scale * h, scale * w
        extra = {"width": width, "height": height, "target_width": width, "target_height": height,
                 "crop_w": 0, "crop_h": 0}
        lengths = [encoded[i][0].shape[1] for i in prompt_rows]
        extra.update(_stacked_extras([encoded[i][1] for i in prompt_rows], lengths, lambda: empty_cond().shape[1]))
        if family is not None and family.guidance:  # as CLIPTextEncodeFlux; a FluxGuidance node after this wins
            extra["guidance"] = guidance
        if latent is None:
            latent = {"samples": torch.zeros(len(prompt_rows), channels, height // scale, width // scale),
                      "batch_index": noise_rows}
        return shown(([[cond, extra]], latent, "\n".join(lines[i] for i in prompt_rows)), notes)


NODES = [StyleAlignedBatchPrompts]
