"""StyleAlignedPatchModel: shared attention with AdaIN on a clone of the model, for every supported
family.

Host glue only; the method lives in core/. The family's adapter (families/) puts the attention hooks
on the clone; a model wrapper keeps inverted references on their trajectory, keeps ControlNet
residuals off the reference rows and tells the hooks how the batch is chunked. Anything another
pack registered first is chained, not dropped.
"""

import logging
import math

from comfy_api.latest import io

from ..core.alignment.attention import SharingOptions
from ..core.alignment.layers import LAYER_MODES, select_layers
from ..core.alignment.positions import POSITION_MODES
from ..core.common.weights import normalise_weights, parse_weights
from .families import adapter_for, remove_patches
from .hooks import STRENGTH_MODES, Settings, SigmaRange, StyleAlignedWrapper
from .model_family import STYLE_REFERENCE, check_reference_for_model
from .ui import ADVANCED, outputs, shown

CATEGORY = "style_aligned"
log = logging.getLogger("style_aligned")


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


def no_effect_notes(attention_patched, share_group_norm, selected, start_percent, end_percent, adapter=None):
    """What in these settings makes the patch do nothing, said on the node instead of silently."""
    notes = []
    if share_group_norm and adapter is not None and not adapter.has_group_norm:
        notes.append(f"share_group_norm: a {adapter.name} model has no GroupNorm layers, so it does nothing here")
        share_group_norm = False
    if not attention_patched and not share_group_norm:
        notes.append("share_attention, the AdaIN switches, full_attention_share and share_group_norm are all off: "
                     "the model is unchanged; turn share_attention on")
    if attention_patched and not selected:
        notes.append("no attention layer is selected (share_fraction is too small for this model), so no "
                     "attention is shared: raise share_fraction or choose layers = auto")
    if start_percent == end_percent and (attention_patched or share_group_norm):
        notes.append(f"start_percent = end_percent ({start_percent}): the active range is empty, so nothing is "
                     "shared; set end_percent after start_percent")
    return notes


def _reference_setup(model, style_reference, reference_weights):
    """(trajectory or None, K, weights or None) after checking them against the model."""
    if style_reference is None:
        if parse_weights(reference_weights, "reference_weights") is not None:
            raise ValueError("reference_weights: set, but no style_reference is connected; connect one or clear it")
        return None, 1, None
    check_reference_for_model(style_reference, model)
    refs = style_reference.ref_count
    weights = normalise_weights(parse_weights(reference_weights, "reference_weights"), refs, "reference_weights")
    return style_reference, refs, tuple(weights.tolist())


def _held_sigma(reference, offset):
    _check_finite("reference_offset", offset, 0.0, 0.95)
    if not offset:
        return None
    if reference is None:
        raise ValueError("reference_offset: set, but no style_reference is connected; connect one or set it to 0")
    return reference.held_sigma(offset)


class StyleAlignedPatchModel(io.ComfyNode):
    # the rest of the story, on the node's help page (the description is its tooltip)
    DETAILS = (
        "Target images attend to the reference's keys and values, with their queries and keys normalised to "
        "the reference's statistics (AdaIN). The reference row comes out exactly as without the patch."
    )

    @classmethod
    def define_schema(cls):
        # Six widgets on the node (share_attention, adain_values, score_shift, share_group_norm, layers,
        # end_percent); the rest are advanced (folded where the host supports it). The order is the saved
        # workflows' widget order: never reorder.
        return io.Schema(
            node_id="StyleAlignedPatchModel",
            display_name="Style Aligned Patch Model",
            category=CATEGORY,
            description=(
                "StyleAligned: every image of the batch shares the style of the first one (the reference). Use "
                "with a batch whose first row is the reference, e.g. from 'Style Aligned Batch Prompts'. Returns a "
                "patched copy; the input model is not changed."
            ),
            inputs=[
                io.Model.Input("model", tooltip="The diffusion model to patch: SD1.5, SD2, SDXL; Flux, Chroma, SD3 "
                               "/ SD3.5, Qwen-Image (and Edit), FLUX.2, Z-Image, Krea 2, Boogu, HunyuanImage 2.1, "
                               "Kandinsky 5, LongCat-Image; Wan video; and their fine-tunes. Another model is named "
                               "in a message listing these."),
                io.Boolean.Input("share_attention", default=True,
                                 tooltip="Targets attend to the reference's keys and values. The heart of the "
                                         "method. Off: the AdaIN switches still apply, as in the original, but no "
                                         "image attends to another."),
                io.Boolean.Input("adain_queries", default=True,
                                 tooltip="Normalise the targets' queries to the reference's per-channel mean and "
                                         "std (AdaIN).", **ADVANCED),
                io.Boolean.Input("adain_keys", default=True,
                                 tooltip="Normalise the targets' keys to the reference's statistics (AdaIN).",
                                 **ADVANCED),
                io.Boolean.Input("adain_values", default=False,
                                 tooltip="Also normalise values. Stronger style transfer, more content leakage; "
                                         "off in the paper."),
                io.Float.Input("score_scale", default=1.0, min=0.001, max=100.0, step=0.01,
                               tooltip="Multiplies the reference keys (sharpens or flattens attention to the "
                                       "reference). 1 = paper.", **ADVANCED),
                io.Float.Input("score_shift", default=0.0, min=-20.0, max=20.0, step=0.01,
                               tooltip="Added to the attention logits of reference keys: log(w) multiplies the "
                                       "reference's weight by w (0.693 = log 2 doubles it, as in the transfer "
                                       "demo)."),
                io.Boolean.Input("share_group_norm", default=False,
                                 tooltip="Targets' GroupNorm statistics are taken over their features together "
                                         "with the reference's."),
                io.Boolean.Input("full_attention_share", default=False,
                                 tooltip="Every image attends to every image of the batch, plainly (no AdaIN, "
                                         "score scale or shift, as in the original); the reference changes as "
                                         "well. Off in the paper.", **ADVANCED),
                io.Combo.Input("layers", options=list(LAYER_MODES), default="auto",
                               tooltip="Which attention layers share. auto: the family's default (UNet: all "
                                       "self-attention layers; Flux/Chroma: the single-stream blocks, as "
                                       "AlignedGen; SD3 and Qwen-Image: all joint blocks). all; an evenly spread "
                                       "fraction; 'style blocks' (UNet only, InstantStyle: SDXL output_1, SD1.5 "
                                       "output_4) for less content leakage; single- or double-stream blocks (Flux "
                                       "only); or a custom list."),
                io.Float.Input("share_fraction", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="With layers = fraction: the share of self-attention layers that share, "
                                       "round(N x fraction) of them spread evenly. The original's level knob is "
                                       "1 - share_fraction; it picks every n-th layer, so it may share a few more "
                                       "or fewer.", **ADVANCED),
                io.String.Input("custom_layers", default="output_1",
                                tooltip="With layers = custom. UNet: blocks such as 'input_4, output_1' or one "
                                        "transformer as 'output_1.0'. Flux: 'single_10-37, double_5'. SD3, "
                                        "Qwen-Image: 'joint_0-11'. A wrong name lists this model's blocks.",
                                **ADVANCED),
                io.Float.Input("start_percent", default=0.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Share from this point of the denoising schedule (0 = first step).",
                               **ADVANCED),
                io.Float.Input("end_percent", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Share until this point of the schedule (1 = last step). Plain attention "
                                       "outside the range."),
                io.Custom(STYLE_REFERENCE).Input(
                    "style_reference", optional=True,
                    tooltip="Inverted reference image(s) from DDIM Invert Reference or Load Style Reference. Rows "
                            "0..K-1 of the batch then follow the reference's trajectory and every other row takes "
                            "its style."),
                io.String.Input("reference_weights", optional=True, default="",
                                tooltip="With K references: one weight each, e.g. '0.7, 0.3' (renormalised). Each "
                                        "target attends to all K references with these weights; empty = equal.",
                                **ADVANCED),
                io.Float.Input("reference_offset", optional=True, default=0.0, min=0.0, max=0.95, step=0.01,
                               tooltip="With a style_reference: hold the reference row this fraction of its "
                                       "trajectory less noisy than the targets until they reach it (0 = same "
                                       "noise level; 0.1 = 5 of 50 steps, the original transfer demo).",
                               **ADVANCED),
                io.Combo.Input("reference_positions", optional=True, options=list(POSITION_MODES), default="shift",
                               tooltip="DiTs with rotary positions (Flux, Qwen-Image, ...): where the reference's keys "
                                       "sit for the targets. shift: one image width to the right (AlignedGen's "
                                       "ShiftPE: style without the layout). none: on top of the target (more "
                                       "layout copy). untwist: in place, high rotary frequencies turned down and "
                                       "low ones up (Untwisting RoPE; untwist_high / untwist_low). No effect on "
                                       "UNets and SD3.", **ADVANCED),
                io.Combo.Input("reference_strength", optional=True, options=list(STRENGTH_MODES), default="fixed",
                               tooltip="The reference keys' factor over the schedule. fixed: score_scale at every "
                                       "step (AlignedGen's 'fix' mode ships with 1.1). decrease: score_scale x "
                                       "(t / T)^2, strong while the image is noise and fading as it settles "
                                       "(AlignedGen's default mode).", **ADVANCED),
                io.Float.Input("untwist_high", optional=True, default=0.75, min=0.0, max=4.0, step=0.01,
                               tooltip="With reference_positions = untwist: the gain of the reference keys' "
                                       "highest rotary frequency at the end of the schedule (it starts at a "
                                       "third of it). Below 1 loosens the tie to the same position, which "
                                       "copies layout.", **ADVANCED),
                io.Float.Input("untwist_low", optional=True, default=1.4, min=0.0, max=4.0, step=0.01,
                               tooltip="With reference_positions = untwist: the gain of the reference keys' "
                                       "lowest rotary frequency at the end of the schedule (it starts at 1). "
                                       "Above 1 strengthens attention to what is alike wherever it is: more "
                                       "style.", **ADVANCED),
            ],
            outputs=outputs((io.Model, None, "A copy of the model whose batch shares the reference's style.")),
        )

    @classmethod
    def execute(cls, model, share_attention, adain_queries, adain_keys, adain_values, score_scale, score_shift,
              share_group_norm, full_attention_share, layers, share_fraction, custom_layers, start_percent, end_percent,
              style_reference=None, reference_weights="", reference_offset=0.0, reference_positions="shift",
              reference_strength="fixed", untwist_high=0.75, untwist_low=1.4):
        validate_knobs(score_scale, score_shift, share_fraction, start_percent, end_percent)
        for name, value, modes in (("reference_positions", reference_positions, POSITION_MODES),
                                   ("reference_strength", reference_strength, STRENGTH_MODES)):
            if value not in modes:
                raise ValueError(f"{name} must be one of {', '.join(modes)}, got '{value}'")
        _check_finite("untwist_high", untwist_high, 0.0, 4.0)
        _check_finite("untwist_low", untwist_low, 0.0, 4.0)
        adapter = adapter_for(model)
        reference, refs, weights = _reference_setup(model, style_reference, reference_weights)
        settings = Settings(
            opts=SharingOptions(adain_queries=adain_queries, adain_keys=adain_keys, adain_values=adain_values,
                                score_scale=score_scale, score_shift=score_shift, full_share=full_attention_share,
                                share_attention=share_attention),
            sigma_range=SigmaRange.of(model.get_model_object("model_sampling"), start_percent, end_percent),
            refs=refs, weights=weights, positions=reference_positions,
            selected=frozenset(select_layers(adapter.layers, layers, share_fraction, custom_layers, adapter.presets)),
            reference=reference, hold_sigma=_held_sigma(reference, reference_offset),
            strength=reference_strength, untwist=(untwist_high, untwist_low),
            model_sampling=model.get_model_object("model_sampling"))
        attention_patched = share_attention or full_attention_share or adain_queries or adain_keys or adain_values

        patched = model.clone()
        previous_wrapper = patched.model_options.get("model_function_wrapper")
        if remove_patches(patched) or isinstance(previous_wrapper, StyleAlignedWrapper):
            log.warning("Style Aligned Patch Model: the model already carried a Style Aligned patch; it is replaced "
                        "and this node's settings apply (patches of other packs stay chained)")
        if isinstance(previous_wrapper, StyleAlignedWrapper):
            previous_wrapper = previous_wrapper.previous
        per_call = adapter.install(patched, settings) if attention_patched else None
        if share_group_norm and adapter.has_group_norm:
            adapter.share_group_norms(patched)
        patched.set_model_unet_function_wrapper(StyleAlignedWrapper(settings, previous_wrapper, per_call))
        notes = no_effect_notes(attention_patched, share_group_norm, settings.selected, start_percent, end_percent,
                                adapter)
        for note in notes:
            log.warning("Style Aligned Patch Model: %s", note)
        return shown((patched,), notes)


NODES = [StyleAlignedPatchModel]
