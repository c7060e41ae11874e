"""Shared self-attention with AdaIN (StyleAligned, Hertz et al. 2024), pure torch.

Tensors follow the host's projected layout: q, k, v are `(B, N, heads * dim)`. The batch is
`chunks` equal chunks (one per conditioning); in every chunk the first `refs` rows are the
references and the rest are targets. A target t attends to its own keys and to the reference
keys, after AdaIN has moved its queries and keys to the reference statistics:

    K'_t = [adain(k_t) ; s * k_r],  V'_t = [v_t ; v_r],  logits on reference columns += b_r

References use plain self-attention, so their output is exactly what the unpatched model gives.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..common.weights import normalise_weights
from .reference_rows import rows_per_chunk

EPS = 1e-5


@dataclass(frozen=True)
class SharingOptions:
    """The knobs of the method (defaults as in the original SDXL demo)."""

    adain_queries: bool = True
    adain_keys: bool = True
    adain_values: bool = False
    score_scale: float = 1.0
    score_shift: float = 0.0
    full_share: bool = False  # the original's full_attention_share: plain attention over every row
    share_attention: bool = True  # off: AdaIN still applies (as in the original), no row attends to another


def mean_std(x, eps=EPS):
    """Per-channel mean and std over the token axis (-2); unbiased variance, as the original."""
    var, mean = torch.var_mean(x, dim=-2, keepdim=True)
    return mean, (var + eps).sqrt()


def mixture_mean_std(means, stds, weights, eps=EPS):
    """Mean and std of a weighted mixture of K token distributions.

    means, stds: (..., K, 1, C); weights: (K,) summing to 1. With K = 1 this returns the input.
    """
    w = weights.to(means).view(-1, 1, 1)
    mean = (w * means).sum(dim=-3, keepdim=True)
    second = (w * (stds.square() - eps + means.square())).sum(dim=-3, keepdim=True)
    var = (second - mean.square()).clamp_min(0)
    return mean, (var + eps).sqrt()


def adain(x, ref_mean, ref_std, eps=EPS):
    """Give x (..., N, C) the reference's per-channel statistics:
    (x - mean) / std * ref_std + ref_mean, as one fused multiply-add over the tokens."""
    mean, std = mean_std(x, eps)
    scale = ref_std / std
    return torch.addcmul(ref_mean - mean * scale, x, scale)


def attention(q, k, v, heads, key_bias=None, bias_channels=None):
    """Scaled-dot-product attention over `(..., L, heads*dim)` with an optional additive bias per key
    (see `attention_heads`)."""
    lead = q.shape[:-2]
    length, channels = q.shape[-2:]
    q, k, v = (t.reshape(-1, t.shape[-2], heads, channels // heads).transpose(1, 2) for t in (q, k, v))
    out = attention_heads(q, k, v, key_bias, bias_channels)
    return out.transpose(1, 2).reshape(*lead, length, channels)


def attention_heads(q, k, v, key_bias=None, bias_channels=None):
    """Scaled-dot-product attention over `(B, heads, L, dim)`, with an optional additive bias per key.

    key_bias: `(S,)` or broadcastable to `(B, S)`, added to the logits of each key. It travels as an
    extra channel in q (ones) and k (bias * sqrt(dim)), so no `(L, S)` logit or mask tensor is ever
    built and the fused kernels stay usable. `bias_channels` pads that extra channel to a
    kernel-friendly head size (8 on CUDA, 1 elsewhere by default).
    """
    batch, heads, _, dim = q.shape
    scale = dim**-0.5
    if key_bias is not None:
        pad = bias_channels or (8 if q.is_cuda else 1)
        keys = k.shape[-2]
        bias = key_bias.expand(batch, keys).reshape(batch, 1, keys, 1).to(k.dtype)
        q_extra = q.new_zeros(*q.shape[:-1], pad)
        q_extra[..., 0] = 1.0
        k_extra = torch.cat([bias.expand(-1, heads, -1, 1) / scale, k.new_zeros(*k.shape[:-1], pad - 1)], dim=-1)
        q = torch.cat([q, q_extra], dim=-1)
        k = torch.cat([k, k_extra], dim=-1)
        v = torch.cat([v, v.new_zeros(*v.shape[:-1], pad)], dim=-1)
    return F.scaled_dot_product_attention(q, k, v, scale=scale)[..., :dim]


def reference_weights(refs, weights=None, device=None):
    """Per-reference weights renormalised to sum 1 (equal when not given)."""
    return normalise_weights(weights, refs, name="reference weights").to(device=device, dtype=torch.float32)


def _reference_stats(ref, weights):
    """AdaIN target statistics: the (weighted mixture of the) references' statistics."""
    mean, std = mean_std(ref)  # (chunks, refs, 1, C)
    if ref.shape[1] == 1:
        return mean, std
    return mixture_mean_std(mean, std, weights)


def _align(x, ref, weights, enabled):
    if not enabled:
        return x
    return adain(x, *_reference_stats(ref, weights))


def reference_key_bias(opts, weights, tokens, own_tokens, device, dtype):
    """Bias per key column: 0 on the target's own keys, shift + log w_r on reference r's keys.

    Returns None when every bias is zero (plain fused attention, nothing extra to carry).
    """
    # a zero weight leaves that reference out: a large finite negative shift, never -inf
    relative = weights.to(device=device, dtype=torch.float64) * len(weights)
    shifts = opts.score_shift + torch.log(relative.clamp_min(1e-12))
    if not torch.any(shifts != 0):
        return None
    ref_bias = shifts.to(dtype).repeat_interleave(tokens)
    return torch.cat([torch.zeros(own_tokens, device=device, dtype=dtype), ref_bias])


def shared_attention(q, k, v, heads, chunks, refs=1, opts=None, weights=None, attend=attention):
    """StyleAligned attention over a whole batch of `chunks` equal chunks.

    q, k, v: (B, N, heads*dim). weights: optional per-reference weights (K references), which
    enter as score shifts `log(K * w_r)` (equal weights: no shift) and as the mixture of AdaIN
    statistics. Chunks of `refs` rows or fewer have no target and run as plain attention.
    `attend(q, k, v, heads, key_bias=None)` computes each attention (another pack's kernel may
    stand in for ours). As in the original, `share_attention` off keeps AdaIN but no row attends to
    another, and `full_share` is plain attention over all rows of a chunk (see `_full_share`).
    """
    opts = opts or SharingOptions()
    batch, tokens, channels = q.shape
    rows = rows_per_chunk(batch, chunks)
    if rows <= refs:
        return attend(q, k, v, heads)
    if opts.full_share:
        return _full_share(q, k, v, heads, chunks, attend)
    w = reference_weights(refs, weights, q.device)
    q, k, v = (t.reshape(chunks, rows, tokens, channels) for t in (q, k, v))
    ref_q, ref_k, ref_v = q[:, :refs], k[:, :refs], v[:, :refs]
    q_t = _align(q[:, refs:], ref_q, w, opts.adain_queries)
    k_t = _align(k[:, refs:], ref_k, w, opts.adain_keys)
    v_t = _align(v[:, refs:], ref_v, w, opts.adain_values)
    out_r = attend(ref_q, ref_k, ref_v, heads)
    if not opts.share_attention:
        return torch.cat([out_r, attend(q_t, k_t, v_t, heads)], dim=1).reshape(batch, tokens, channels)
    # All reference tokens as one key sequence per chunk; scaled once, then broadcast to targets.
    scaled = ref_k * opts.score_scale if opts.score_scale != 1 else ref_k
    ref_keys = scaled.reshape(chunks, 1, refs * tokens, channels)
    ref_values = ref_v.reshape(chunks, 1, refs * tokens, channels)
    targets = rows - refs
    keys = torch.cat([k_t, ref_keys.expand(-1, targets, -1, -1)], dim=2)
    values = torch.cat([v_t, ref_values.expand(-1, targets, -1, -1)], dim=2)
    bias = reference_key_bias(opts, w, tokens, tokens, q.device, q.dtype)
    out_t = attend(q_t, keys, values, heads, key_bias=bias)
    return torch.cat([out_r, out_t], dim=1).reshape(batch, tokens, channels)


def _full_share(q, k, v, heads, chunks, attend):
    """Every row attends to the tokens of every row of its chunk, plainly: the original's
    full_attention_share runs the default attention there (no AdaIN, score scale or shift). The
    references then see the targets too, so they no longer match the unpatched model."""
    batch, tokens, channels = q.shape
    q, k, v = (t.reshape(chunks, -1, channels) for t in (q, k, v))
    return attend(q, k, v, heads).reshape(batch, tokens, channels)
