"""The UNet adapter (SD1.5, SD2, SDXL and their fine-tunes): sharing hooks in as an `attn1_replace` per
selected self-attention layer (q, k, v already projected, `(B, N, heads*dim)`), and GroupNorm sharing as
reversible object patches. Anything another pack registered first is chained."""

import functools
import inspect

import torch
import torch.nn.functional as F

from ...core.alignment.attention import attention, shared_attention
from ...core.alignment.group_norm import shared_group_norm
from ...core.alignment.layers import find_self_attention_layers, style_blocks

NAME = "SD1.5 / SD2 / SDXL (UNet)"


def is_unet(diffusion_model):
    return all(hasattr(diffusion_model, name) for name in ("input_blocks", "middle_block", "output_blocks"))


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

    def __init__(self, sharing, previous=None):
        self.sharing = sharing
        self.previous = previous

    def __call__(self, q, k, v, extra_options):
        heads = extra_options["n_heads"]
        attend = host_attend(self.previous, extra_options)
        s = self.sharing
        if not s.state.active_for(extra_options):
            return attend(q, k, v, heads)
        chunks = len(extra_options.get("cond_or_uncond") or [0])
        return shared_attention(q, k, v, heads, chunks, s.refs, s.opts, s.weights, attend)


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

    def install(self, patched, selected, sharing):
        for block, number, index in selected:
            previous = existing_attn1_replace(patched.model_options, block, number, index)
            patched.set_model_attn1_replace(SharedAttentionPatch(sharing, previous), block, number, index)

    def share_group_norms(self, patched, state, refs):
        for path, module in self.diffusion_model.named_modules():
            if isinstance(module, torch.nn.GroupNorm):
                patched.add_object_patch(f"diffusion_model.{path}.forward", SharedGroupNormForward(module, state, refs))

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
