"""StyleAlignedBatchPrompts: one prompt per latent row, reference first."""

import torch

from ..core.alignment.prompt_set import apply_style, batch_rows, parse_prompt_lines, stack_rows
from .model_family import STYLE_REFERENCE
from .ui import shown

MAX_RESOLUTION = 16384


def _encode(clip, text):
    tokens = clip.tokenize(text)
    cond, pooled = clip.encode_from_tokens(tokens, return_pooled=True)
    return cond, pooled


def batch_notes(count, window_start, width, height, latent_given):
    """Settings that are silently ignored or changed, said on the node."""
    notes = []
    if count == 1:
        notes.append("only the reference prompt: the batch has no target image to align; add prompts, one per line")
        if window_start:
            notes.append(f"window_start {window_start} is ignored: there is no target prompt")
    for name, value in (("width", width), ("height", height)):
        if value % 8 and not latent_given:
            notes.append(f"{name} {value} is not a multiple of 8: the images will be {value // 8 * 8} px")
    return notes


def _checked_latent(latent, rows):
    samples = latent["samples"]
    if samples.shape[0] != rows:
        raise ValueError(f"latent has {samples.shape[0]} rows but this batch has {rows} prompts (reference rows "
                         "first, then the window's targets): give the latent one row per prompt, or leave it "
                         "unconnected")
    return {**latent, "batch_index": latent.get("batch_index", list(range(rows)))}


class StyleAlignedBatchPrompts:
    DESCRIPTION = (
        "Turns a list of prompts (one per line) into one conditioning row per prompt and an empty "
        "latent batch of the same size. The first line is the style reference (row 0); the optional "
        "style text is added to every prompt. For sets larger than one batch, queue several windows: "
        "each batch keeps the reference as row 0 with the same noise, so all batches share one style."
    )
    CATEGORY = "style_aligned"
    FUNCTION = "encode"
    RETURN_TYPES = ("CONDITIONING", "LATENT", "STRING")
    RETURN_NAMES = ("positive", "latent", "prompts")
    OUTPUT_TOOLTIPS = (
        "One conditioning row per prompt of this batch, the reference first.",
        "An empty latent with one row per prompt; its noise per row depends only on the prompt's place in the list.",
        "The prompts of this batch (without the style text), one per line, for the metric nodes.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "clip": ("CLIP", {"tooltip": "The text encoder of your checkpoint."}),
                "prompts": ("STRING", {"multiline": True, "default": "a house\na cat\na bicycle\na mountain lake",
                                       "tooltip": "One prompt per line. The first line is the reference whose style "
                                                  "every other image takes."}),
                "style": ("STRING", {"multiline": True, "default": "minimal flat illustration, pastel colours",
                                     "tooltip": "Added to every prompt after a comma, or a template with {prompt} "
                                                "(e.g. 'a watercolor of {prompt}'). May be empty."}),
                "width": ("INT", {"default": 1024, "min": 64, "max": MAX_RESOLUTION, "step": 8,
                                  "tooltip": "Image width in pixels (1024 for SDXL, 512 for SD1.5)."}),
                "height": ("INT", {"default": 1024, "min": 64, "max": MAX_RESOLUTION, "step": 8,
                                   "tooltip": "Image height in pixels."}),
                "window_start": ("INT", {"default": 0, "min": 0, "max": 100000,
                                         "tooltip": "First target prompt of this batch (0 = the line after the "
                                                    "reference). Queue several windows for long lists."}),
                "window_size": ("INT", {"default": 0, "min": 0, "max": 4096,
                                        "tooltip": "Number of target prompts in this batch besides the reference (0 = "
                                                   "all remaining)."}),
            },
            "optional": {
                "latent": ("LATENT", {"tooltip": "Use this latent instead of an empty one (e.g. VAE-encoded images); "
                                                 "it needs one row per prompt of this batch. Width and height are then "
                                                 "taken from it."}),
                "style_reference": (STYLE_REFERENCE, {"tooltip": "An inverted reference of K images: the batch then "
                                                                 "starts with K reference rows (all with the first "
                                                                 "prompt, which should describe the reference) and "
                                                                 "takes the reference's size."}),
            },
        }

    def encode(self, clip, prompts, style, width, height, window_start, window_size, latent=None,
               style_reference=None):
        if clip is None:
            raise ValueError("clip is missing: connect the CLIP output of your checkpoint loader")
        lines = parse_prompt_lines(prompts)
        refs = 1 if style_reference is None else style_reference.ref_count
        prompt_rows, noise_rows = batch_rows(len(lines), window_start, window_size, refs)
        encoded = {i: _encode(clip, apply_style(lines[i], style)) for i in sorted(set(prompt_rows))}
        cond = stack_rows([encoded[i][0] for i in prompt_rows], lambda: _encode(clip, "")[0])
        notes = batch_notes(len(lines), window_start, width, height, latent is not None or style_reference is not None)
        if latent is not None:
            latent = _checked_latent(latent, len(prompt_rows))
            height, width = (8 * n for n in latent["samples"].shape[-2:])
        elif style_reference is not None:
            channels, h, w = style_reference.latent_shape
            height, width = 8 * h, 8 * w
        extra = {"width": width, "height": height, "target_width": width, "target_height": height,
                 "crop_w": 0, "crop_h": 0}
        if all(p is not None for _, p in encoded.values()):
            extra["pooled_output"] = torch.cat([encoded[i][1] for i in prompt_rows])
        if latent is None:
            latent = {"samples": torch.zeros(len(prompt_rows), 4, height // 8, width // 8), "batch_index": noise_rows}
        return shown(([[cond, extra]], latent, "\n".join(lines[i] for i in prompt_rows)), notes)


NODE_CLASS_MAPPINGS = {"StyleAlignedBatchPrompts": StyleAlignedBatchPrompts}
NODE_DISPLAY_NAME_MAPPINGS = {"StyleAlignedBatchPrompts": "Style Aligned Batch Prompts"}
