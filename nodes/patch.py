"""StyleAlignedPatchModel: shared self-attention with AdaIN on a clone of the model.

Host glue only; the method lives in core/. Patches go on the clone: `attn1_replace` per selected
self-attention layer (q, k, v already projected), reversible object patches on GroupNorm, and a
model wrapper that keeps inverted references on their trajectory, keeps ControlNet residuals off
the reference rows and tells the norms how the batch is chunked. Anything another pack
registered first is chained, not dropped.
"""

import logging
import math

from ..core.alignment.attention import SharingOptions
from ..core.alignment.layers import LAYER_MODES, find_self_attention_layers, select_layers
from ..core.common.weights import normalise_weights, parse_weights
from .hooks import CallState, SharedAttentionPatch, SharedGroupNormForward, SigmaRange, StyleAlignedWrapper
from .model_family import STYLE_REFERENCE, check_reference_for_model, require_unet
from .ui import shown

CATEGORY = "style_aligned"
log = logging.getLogger("style_aligned")


def _attn1_replaces(model_options):
    return model_options.get("transformer_options", {}).get("patches_replace", {}).get("attn1", {})


def existing_attn1_replace(model_options, block, number, index):
    """What the host would run for this layer now (3-part key wins over the 2-part one)."""
    replaces = _attn1_replaces(model_options)
    return replaces.get((block, number, index), replaces.get((block, number)))


def _remove_our_patch(patched):
    """Take an earlier Style Aligned patch off a fresh clone, so that patching twice replaces it: its
    attention replaces give way to what they had chained, its GroupNorm object patches go, and its
    wrapper gives way to the one it had chained. True if there was one."""
    replaces = _attn1_replaces(patched.model_options)
    ours = [key for key, value in replaces.items() if isinstance(value, SharedAttentionPatch)]
    for key in ours:
        previous = replaces.pop(key).previous
        if previous is not None and previous is not replaces.get(key[:2]):  # the host falls back to (block, number)
            replaces[key] = previous
    norms = [key for key, value in patched.object_patches.items() if isinstance(value, SharedGroupNormForward)]
    for key in norms:
        del patched.object_patches[key]
    wrapper = patched.model_options.get("model_function_wrapper")
    if isinstance(wrapper, StyleAlignedWrapper):
        patched.model_options["model_function_wrapper"] = wrapper.previous
    return bool(ours or norms or isinstance(wrapper, StyleAlignedWrapper))


def _check_finite(name, value, low=None, high=None):
    if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        bounds = f" between {low} and {high}" if low is not None and high is not None else ""
        raise ValueError(f"{name} must be a finite number{bounds}, got {value}")


def validate_knobs(score_scale, score_shift, share_fraction, start_percent, end_percent):
    _check_finite("score_scale", score_scale, 1e-3, 100.0)
    _check_finite("score_shift", score_shift, -20.0, 20.0)
    _check_finite("share_fraction", share_fraction, 0.0, 1.0)
    _check_finite("start_percent", start_percent, 0.0, 1.0)
    _check_finite("end_percent", end_percent, 0.0, 1.0)
    if start_percent > end_percent:
        raise ValueError(f"start_percent ({start_percent}) must not be after end_percent ({end_percent})")


def no_effect_notes(attention_patched, share_group_norm, selected, start_percent, end_percent):
    """What in these settings makes the patch do nothing, said on the node instead of silently."""
    notes = []
    if not attention_patched and not share_group_norm:
        notes.append("share_attention, the AdaIN switches, full_attention_share and share_group_norm are all off: "
                     "the model is unchanged; turn share_attention on")
    if attention_patched and not selected:
        notes.append("no self-attention layer is selected (share_fraction is too small for this model), so no "
                     "attention is shared: raise share_fraction or choose layers = all")
    if start_percent == end_percent and (attention_patched or share_group_norm):
        notes.append(f"start_percent = end_percent ({start_percent}): the active range is empty, so nothing is "
                     "shared; set end_percent after start_percent")
    return notes


def _patch_group_norms(model, state, refs):
    import torch

    unet = model.get_model_object("diffusion_model")
    for path, module in unet.named_modules():
        if isinstance(module, torch.nn.GroupNorm):
            forward = SharedGroupNormForward(module, state, refs)
            model.add_object_patch(f"diffusion_model.{path}.forward", forward)


def _reference_setup(model, style_reference, reference_weights):
    """(trajectory or None, K, weights or None) after checking them against the model."""
    if style_reference is None:
        if parse_weights(reference_weights, "reference_weights") is not None:
            raise ValueError("reference_weights: set, but no style_reference is connected; connect one or clear it")
        return None, 1, None
    check_reference_for_model(style_reference, model)
    refs = style_reference.ref_count
    weights = normalise_weights(parse_weights(reference_weights, "reference_weights"), refs, "reference_weights")
    return style_reference, refs, weights.tolist()


def _held_sigma(reference, offset):
    _check_finite("reference_offset", offset, 0.0, 0.95)
    if not offset:
        return None
    if reference is None:
        raise ValueError("reference_offset: set, but no style_reference is connected; connect one or set it to 0")
    return reference.held_sigma(offset)


class StyleAlignedPatchModel:
    DESCRIPTION = (
        "StyleAligned: every image of the batch shares the style of the first one (the reference). "
        "Target images attend to the reference's keys and values, with their queries and keys "
        "normalised to the reference's statistics (AdaIN). Use with a batch whose first row is the "
        "reference, e.g. from 'Style Aligned Batch Prompts'. The reference row comes out exactly as "
        "without the patch. Returns a patched copy; the input model is not changed."
    )
    CATEGORY = CATEGORY
    FUNCTION = "patch"
    RETURN_TYPES = ("MODEL",)
    OUTPUT_TOOLTIPS = ("A copy of the model whose batch shares the reference's style.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": ("MODEL", {"tooltip": "The diffusion model (SD1.5 or SDXL family) to patch."}),
                "share_attention": ("BOOLEAN", {"default": True,
                                                "tooltip": "Targets attend to the reference's keys and values. The "
                                                           "heart of the method. Off: the AdaIN switches still "
                                                           "apply, as in the original, but no image attends to "
                                                           "another."}),
                "adain_queries": ("BOOLEAN", {"default": True,
                                              "tooltip": "Normalise the targets' queries to the reference's "
                                                         "per-channel mean and std (AdaIN)."}),
                "adain_keys": ("BOOLEAN", {"default": True, "tooltip": "Normalise the targets' keys to the reference's "
                                                                       "statistics (AdaIN)."}),
                "adain_values": ("BOOLEAN", {"default": False,
                                             "tooltip": "Also normalise values. Stronger style transfer, more content "
                                                        "leakage; off in the paper."}),
                "score_scale": ("FLOAT", {"default": 1.0, "min": 0.001, "max": 100.0, "step": 0.01,
                                          "tooltip": "Multiplies the reference keys (sharpens or flattens attention to "
                                                     "the reference). 1 = paper."}),
                "score_shift": ("FLOAT", {"default": 0.0, "min": -20.0, "max": 20.0, "step": 0.01,
                                          "tooltip": "Added to the attention logits of reference keys: log(w) "
                                                     "multiplies the reference's weight by w (0.693 = log 2 doubles "
                                                     "it, as in the transfer demo)."}),
                "share_group_norm": ("BOOLEAN", {"default": False,
                                                 "tooltip": "Targets' GroupNorm statistics are taken over their "
                                                            "features together with the reference's."}),
                "full_attention_share": ("BOOLEAN", {"default": False,
                                                     "tooltip": "Every image attends to every image of the batch, "
                                                                "plainly (no AdaIN, score scale or shift, as in the "
                                                                "original); the reference changes as well. Off in "
                                                                "the paper."}),
                "layers": (LAYER_MODES, {"default": "all", "tooltip": "Which self-attention layers share: all; an "
                                                                      "evenly spread fraction; 'style blocks' "
                                                                      "(InstantStyle: SDXL output_1, SD1.5 output_4) "
                                                                      "for less content leakage; or a custom list."}),
                "share_fraction": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
                                             "tooltip": "With layers = fraction: the share of self-attention layers "
                                                        "that share, round(N x fraction) of them spread evenly. The "
                                                        "original's level knob is 1 - share_fraction; it picks every "
                                                        "n-th layer, so it may share a few more or fewer."}),
                "custom_layers": ("STRING", {"default": "output_1",
                                             "tooltip": "With layers = custom: blocks such as 'input_4, output_1' or "
                                                        "one transformer as 'output_1.0'."}),
                "start_percent": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.01,
                                            "tooltip": "Share from this point of the denoising schedule (0 = first "
                                                       "step)."}),
                "end_percent": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01,
                                          "tooltip": "Share until this point of the schedule (1 = last step). Plain "
                                                     "attention outside the range."}),
            },
            "optional": {
                "style_reference": (STYLE_REFERENCE, {"tooltip": "Inverted reference image(s) from DDIM Invert "
                                                                 "Reference or Load Style Reference. Rows 0..K-1 of "
                                                                 "the batch then follow the reference's trajectory and "
                                                                 "every other row takes its style."}),
                "reference_weights": ("STRING", {"default": "",
                                                 "tooltip": "With K references: one weight each, e.g. '0.7, 0.3' "
                                                            "(renormalised). Each target attends to all K references "
                                                            "with these weights; empty = equal."}),
                "reference_offset": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 0.95, "step": 0.01,
                                               "tooltip": "With a style_reference: hold the reference row this "
                                                          "fraction of its trajectory less noisy than the "
                                                          "targets until they reach it (0 = same noise level; "
                                                          "0.1 = 5 of 50 steps, the original transfer demo)."}),
            },
        }

    def patch(self, model, share_attention, adain_queries, adain_keys, adain_values, score_scale, score_shift,
              share_group_norm, full_attention_share, layers, share_fraction, custom_layers, start_percent, end_percent,
              style_reference=None, reference_weights="", reference_offset=0.0):
        validate_knobs(score_scale, score_shift, share_fraction, start_percent, end_percent)
        reference, refs, weights = _reference_setup(model, style_reference, reference_weights)
        hold = _held_sigma(reference, reference_offset)
        all_layers, output_levels = find_self_attention_layers(require_unet(model))
        selected = select_layers(all_layers, output_levels, layers, share_fraction, custom_layers)
        opts = SharingOptions(adain_queries, adain_keys, adain_values, score_scale, score_shift, full_attention_share,
                              share_attention)
        attention_patched = share_attention or full_attention_share or adain_queries or adain_keys or adain_values
        state = CallState(SigmaRange(model.get_model_object("model_sampling"), start_percent, end_percent))

        patched = model.clone()
        if _remove_our_patch(patched):
            log.warning("Style Aligned Patch Model: the model already carried a Style Aligned patch; it is replaced "
                        "and this node's settings apply (patches of other packs stay chained)")
        if attention_patched:
            for block, number, index in selected:
                previous = existing_attn1_replace(patched.model_options, block, number, index)
                patch = SharedAttentionPatch(opts, state, previous, refs, weights)
                patched.set_model_attn1_replace(patch, block, number, index)
        if share_group_norm:
            _patch_group_norms(patched, state, refs)
        previous_wrapper = patched.model_options.get("model_function_wrapper")
        patched.set_model_unet_function_wrapper(StyleAlignedWrapper(state, previous_wrapper, reference, refs, hold))
        notes = no_effect_notes(attention_patched, share_group_norm, selected, start_percent, end_percent)
        for note in notes:
            log.warning("Style Aligned Patch Model: %s", note)
        return shown((patched,), notes)


NODE_CLASS_MAPPINGS = {"StyleAlignedPatchModel": StyleAlignedPatchModel}
NODE_DISPLAY_NAME_MAPPINGS = {"StyleAlignedPatchModel": "Style Aligned Patch Model"}
