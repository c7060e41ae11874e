"""The UNet adapter (SD1.5, SD2, SDXL and their fine-tunes): sharing hooks in as an `attn1_replace` per
selected self-attention layer (q, k, v already projected, `(B, N, heads*dim)`), and GroupNorm sharing as
reversible object patches. Anything another pack registered first is chained."""


import torch
import torch.nn.functional as F

from ...core.alignment.attention import attention_heads, share
from ...core.alignment.group_norm import shared_group_norm
from ...core.alignment.layers import find_self_attention_layers, style_blocks
from ..hooks import call_of, current_call

NAME = "SD1.5 / SD2 / SDXL (UNet)"


def is_unet(diffusion_model):
    return all(hasattr(diffusion_model, name) for name in ("input_blocks", "middle_block", "output_blocks"))


def host_attend(previous, extra_options):
    """The attention kernel on `(n, heads, L, dim)` for every part that carries no score bias: another pack's
    replace registered before ours (on the layout it takes, `(n, L, heads*dim)`), else the host's own kernel
    with the call's transformer_options (where another pack's `optimized_attention_override` may sit), so the
    reference rows see the kernel the unpatched model uses. Biased parts use our fused extra-channel kernel."""
    from comfy.ldm.modules.attention import optimized_attention

    heads = extra_options["n_heads"]

    def attend(q, k, v, key_bias=None, mask=None):
        if key_bias is not None:
            return attention_heads(q, k, v, key_bias)
        if previous is not None:
            flat = previous(*(t.transpose(1, 2).flatten(2) for t in (q, k, v)), extra_options)
            return flat.unflatten(-1, (heads, -1)).transpose(1, 2)
        return optimized_attention(q, k, v, heads, mask=mask, attn_precision=extra_options.get("attn_precision"),
                                   skip_reshape=True, skip_output_reshape=True, transformer_options=extra_options)

    return attend


class SharedAttentionPatch:
    """`attn1_replace` callable: StyleAligned attention inside the active range, plain outside (and plain when
    the model ran without our model wrapper, see hooks.call_of).

    With K inverted references, rows 0..K-1 of every chunk are references and their weights
    enter as score shifts and as the mixture of AdaIN statistics.
    """

    def __init__(self, previous=None):
        self.previous = previous

    def __call__(self, q, k, v, extra_options):
        heads = extra_options["n_heads"]
        split = [t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v)]
        attend = host_attend(self.previous, extra_options)
        call = call_of(extra_options)
        if call is None or not call.active:
            out = attend(*split)
        else:
            s = call.settings
            out = share(*split, call.chunks, None, s.refs, call.opts, s.weights, attend)
        return out.transpose(1, 2).flatten(2)


class SharedGroupNormForward:
    """Object patch for one GroupNorm's `forward`; reverted by the host when the clone unloads. The call
    (chunks, active range) comes from the model wrapper of the call running in this thread."""

    def __init__(self, norm):
        self.norm = norm

    def __call__(self, x):
        import comfy.ops

        norm = self.norm
        weight, bias = (None, None) if norm.weight is None else comfy.ops.cast_bias_weight(norm, x)
        call = current_call()
        if call is None or not call.active:
            return F.group_norm(x, norm.num_groups, weight, bias, norm.eps)
        return shared_group_norm(x, norm.num_groups, weight, bias, norm.eps, call.chunks, call.settings.refs)


def _attn1_replaces(model_options):
    return model_options.get("transformer_options", {}).get("patches_replace", {}).get("attn1", {})


def existing_attn1_replace(model_options, block, number, index):
    """What the host would run for this layer now (3-part key wins over the 2-part one)."""
    replaces = _attn1_replaces(model_options)
    return replaces.get((block, number, index), replaces.get((block, number)))


class UNetAdapter:
    name = NAME
    has_group_norm = True

    def __init__(self, diffusion_model):
        self.diffusion_model = diffusion_model
        self.layers, levels = find_self_attention_layers(diffusion_model)
        self.presets = {"auto": list(self.layers), "style blocks": style_blocks(self.layers, levels)}

    def install(self, patched, settings):
        """Register the attention replaces; nothing to re-chain per model call (our replaces call the host's
        kernel, which applies whatever override the model carries), so no per-call hook."""
        for block, number, index in settings.selected:
            previous = existing_attn1_replace(patched.model_options, block, number, index)
            patched.set_model_attn1_replace(SharedAttentionPatch(previous), block, number, index)
        return None

    def share_group_norms(self, patched):
        for path, module in self.diffusion_model.named_modules():
            if isinstance(module, torch.nn.GroupNorm):
                patched.add_object_patch(f"diffusion_model.{path}.forward", SharedGroupNormForward(module))

    @staticmethod
    def remove(patched):
        """Take an earlier Style Aligned UNet patch off a fresh clone: its attention replaces give way to
        what they had chained, its GroupNorm object patches go. True if there was one."""
        replaces = _attn1_replaces(patched.model_options)
        ours = [key for key, value in replaces.items() if isinstance(value, SharedAttentionPatch)]
        for key in ours:
            previous = replaces.pop(key).previous
            if previous is not None and previous is not replaces.get(key[:2]):  # host falls back to (block, number)
                replaces[key] = previous
        norms = [key for key, value in patched.object_patches.items() if isinstance(value, SharedGroupNormForward)]
        for key in norms:
            del patched.object_patches[key]
        return bool(ours or norms)
