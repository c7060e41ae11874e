"""StyleAlignedPatchModel: shared self-attention with AdaIN on a clone of the model.

Host glue only; the method lives in core/. Patches go on the clone: `attn1_replace` per selected
self-attention layer (q, k, v already projected), reversible object patches on GroupNorm, and a
model wrapper that keeps inverted references on their trajectory, keeps ControlNet residuals off
the reference rows and tells the norms how the batch is chunked. Anything another pack
registered first is chained, not dropped.
"""

import functools
import inspect
import logging
import math

import torch.nn.functional as F

from ..core.attention import SharingOptions, attention, shared_attention
from ..core.group_norm import shared_group_norm
from ..core.layers import LAYER_MODES, find_self_attention_layers, select_layers
from ..core.reference_rows import replace_reference_rows, zero_reference_rows
from ..core.weights import normalise_weights, parse_weights
from .reference import STYLE_REFERENCE, check_reference_for_model
from .ui import shown

CATEGORY = "style_aligned"
log = logging.getLogger("style_aligned")


class SigmaRange:
    """The active part of the schedule: start/end percent turned into sigmas (start >= end)."""

    def __init__(self, model_sampling, start_percent, end_percent):
        self.high = float(model_sampling.percent_to_sigma(start_percent))
        self.low = float(model_sampling.percent_to_sigma(end_percent))

    def contains(self, sigmas):
        if sigmas is None:
            return True
        sigma = float(sigmas.max())
        return self.low * (1 - 1e-5) <= sigma <= self.high * (1 + 1e-5)


class CallState:
    """What the model wrapper learns once per UNet call, for the attention and GroupNorm patches:
    the chunk count and whether sharing is active at this sigma (one host sync per call, not one
    per layer).

    Shared by reference between the wrapper (in model_options, which clone() deep-copies) and
    the patches, so deep copies return the same object.
    """

    def __init__(self, sigma_range):
        self.sigma_range = sigma_range
        self.chunks = 1
        self.timestep = None
        self.active = True

    def __deepcopy__(self, memo):
        return self

    def begin(self, chunks, timestep):
        self.chunks, self.timestep = chunks, timestep
        self.active = self.sigma_range.contains(timestep)

    def active_for(self, extra_options):
        """Active for this attention call: the wrapper's answer when the call went through it
        (the host hands the same sigma tensor to both), else decided here."""
        sigmas = extra_options.get("sigmas")
        if sigmas is not None and sigmas is self.timestep:
            return self.active
        return self.sigma_range.contains(sigmas)


@functools.lru_cache(maxsize=8)
def _accepts_kwargs(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def host_attend(previous, extra_options):
    """The attention kernel for every part that carries no score bias: another pack's replace
    registered before ours, else the host's own kernel (the one the unpatched model uses, so the
    reference rows match it exactly). Biased parts use our fused extra-channel attention."""
    if previous is None:
        from comfy.ldm.modules.attention import optimized_attention

        # Newer hosts pass transformer_options to the kernel, where another pack may have put an
        # `optimized_attention_override` (SageAttention and the like); pass them on so the reference
        # rows see the same kernel as the unpatched model. The old host's kernel takes no **kwargs.
        takes_options = _accepts_kwargs(optimized_attention)

        def previous(q, k, v, options):
            extra = {"transformer_options": options} if takes_options else {}
            return optimized_attention(q, k, v, options["n_heads"], attn_precision=options.get("attn_precision"),
                                       **extra)

    def attend(q, k, v, heads, key_bias=None):
        if key_bias is not None:
            return attention(q, k, v, heads, key_bias=key_bias)
        lead = q.shape[:-2]
        out = previous(*(t.reshape(-1, *t.shape[-2:]) for t in (q, k, v)), extra_options)
        return out.reshape(*lead, *out.shape[-2:])

    return attend


class SharedAttentionPatch:
    """`attn1_replace` callable: StyleAligned attention inside the active range, plain outside.

    With K inverted references, rows 0..K-1 of every chunk are references and their weights
    enter as score shifts and as the mixture of AdaIN statistics.
    """

    def __init__(self, opts, state, previous=None, refs=1, weights=None):
        self.opts = opts
        self.state = state
        self.previous = previous
        self.refs = refs
        self.weights = weights

    def __call__(self, q, k, v, extra_options):
        heads = extra_options["n_heads"]
        attend = host_attend(self.previous, extra_options)
        if not self.state.active_for(extra_options):
            return attend(q, k, v, heads)
        chunks = len(extra_options.get("cond_or_uncond") or [0])
        return shared_attention(q, k, v, heads, chunks, self.refs, self.opts, self.weights, attend)


class SharedGroupNormForward:
    """Object patch for one GroupNorm's `forward`; reverted by the host when the clone unloads."""

    def __init__(self, norm, state, refs=1):
        self.norm = norm
        self.state = state
        self.refs = refs

    def __call__(self, x):
        import comfy.ops

        norm = self.norm
        weight, bias = (None, None) if norm.weight is None else comfy.ops.cast_bias_weight(norm, x)
        if not self.state.active:
            return F.group_norm(x, norm.num_groups, weight, bias, norm.eps)
        return shared_group_norm(x, norm.num_groups, weight, bias, norm.eps, self.state.chunks, self.refs)


class StyleAlignedWrapper:
    """Model wrapper around every UNet call.

    - records the chunk count and sigma for the GroupNorm patches;
    - with an inverted reference, sets rows 0..K-1 of every chunk to the trajectory at this sigma
      (here, keyed by sigma, not in the sampler callback that runs one step late) and returns the
      clean reference as their denoised output, so the reference rows end as the reference;
    - zeroes the ControlNet residual of the reference rows when the chunk has targets, as the
      original does: control shapes the targets, not the style source.
    """

    def __init__(self, state, previous=None, reference=None, refs=1):
        self.state = state
        self.previous = previous
        self.reference = reference
        self.refs = refs

    def __call__(self, apply_model, args):
        chunks = len(args.get("cond_or_uncond") or [0])
        x, sigma = args["input"], args["timestep"]
        self.state.begin(chunks, sigma)
        c = dict(args["c"])
        if c.get("control") is not None and x.shape[0] // chunks > self.refs:
            c["control"] = _without_reference_control(c["control"], chunks, self.refs)
        if self.reference is not None:
            x = replace_reference_rows(x, self.reference.latent_at(sigma), chunks)
        args = {**args, "input": x, "c": c}
        if self.previous is not None:
            out = self.previous(apply_model, args)
        else:
            out = apply_model(x, sigma, **c)
        if self.reference is not None:
            out = replace_reference_rows(out, self.reference.clean, chunks)
        return out


def _without_reference_control(control, chunks, refs):
    """ControlNet residuals ({"input": [...], "middle": [...], "output": [...]}) minus the reference rows."""
    return {key: [None if r is None else zero_reference_rows(r, chunks, refs) for r in residuals]
            for key, residuals in control.items()}


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


def no_effect_notes(share_attention, share_group_norm, selected, start_percent, end_percent):
    """What in these settings makes the patch do nothing, said on the node instead of silently."""
    notes = []
    if share_attention and not selected:
        notes.append("no self-attention layer is selected (share_fraction is too small for this model), so no "
                     "attention is shared: raise share_fraction or choose layers = all")
    if start_percent == end_percent and (share_attention or share_group_norm):
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
                                                           "heart of the method."}),
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
                                                     "tooltip": "Every image attends to every image of the batch (the "
                                                                "reference too, so it changes as well). Off in the "
                                                                "paper."}),
                "layers": (LAYER_MODES, {"default": "all", "tooltip": "Which self-attention layers share: all; an "
                                                                      "evenly spread fraction; 'style blocks' "
                                                                      "(InstantStyle: SDXL output_1, SD1.5 output_4) "
                                                                      "for less content leakage; or a custom list."}),
                "share_fraction": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
                                             "tooltip": "With layers = fraction: the share of self-attention layers "
                                                        "that share, spread evenly (the original's level knob)."}),
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
            },
        }

    def patch(self, model, share_attention, adain_queries, adain_keys, adain_values, score_scale, score_shift,
              share_group_norm, full_attention_share, layers, share_fraction, custom_layers, start_percent, end_percent,
              style_reference=None, reference_weights=""):
        validate_knobs(score_scale, score_shift, share_fraction, start_percent, end_percent)
        reference, refs, weights = _reference_setup(model, style_reference, reference_weights)
        all_layers, output_levels = find_self_attention_layers(model.get_model_object("diffusion_model"))
        selected = select_layers(all_layers, output_levels, layers, share_fraction, custom_layers)
        opts = SharingOptions(adain_queries, adain_keys, adain_values, score_scale, score_shift, full_attention_share)
        state = CallState(SigmaRange(model.get_model_object("model_sampling"), start_percent, end_percent))

        patched = model.clone()
        if _remove_our_patch(patched):
            log.warning("Style Aligned Patch Model: the model already carried a Style Aligned patch; it is replaced "
                        "and this node's settings apply (patches of other packs stay chained)")
        if share_attention:
            for block, number, index in selected:
                previous = existing_attn1_replace(patched.model_options, block, number, index)
                patch = SharedAttentionPatch(opts, state, previous, refs, weights)
                patched.set_model_attn1_replace(patch, block, number, index)
        if share_group_norm:
            _patch_group_norms(patched, state, refs)
        previous_wrapper = patched.model_options.get("model_function_wrapper")
        patched.set_model_unet_function_wrapper(StyleAlignedWrapper(state, previous_wrapper, reference, refs))
        notes = no_effect_notes(share_attention, share_group_norm, selected, start_percent, end_percent)
        for note in notes:
            log.warning("Style Aligned Patch Model: %s", note)
        return shown((patched,), notes)


NODE_CLASS_MAPPINGS = {"StyleAlignedPatchModel": StyleAlignedPatchModel}
NODE_DISPLAY_NAME_MAPPINGS = {"StyleAlignedPatchModel": "Style Aligned Patch Model"}
