"""Shared self-attention with AdaIN (StyleAligned, Hertz et al. 2024), one function for every model, pure torch.

q, k, v are `(B, heads, L, dim)`. The batch is `chunks` equal chunks (one per conditioning); in every chunk
the first `refs` rows are the references and the rest are targets. `image` selects the image tokens of L
(a UNet: all of them; a DiT's joint sequence: the image after or before the text). A target t attends to
its own tokens and to the references' image tokens, after AdaIN has moved its image-token queries and keys
to the references' image-token statistics (AlignedGen's reading of StyleAligned on joint attention). On a
model that turns q and k by RoPE before attention, AdaIN works in the un-turned frame, as AlignedGen applies
it before the rotary embedding: `frame` holds the host's rotations of the image tokens, which are undone for
the statistics and the normalisation and done again after (AdaIN and a rotation do not commute):

    K'_t = [adain(k_t) ; s * turn(k_r[image])],  V'_t = [v_t ; v_r[image]],  logits on reference columns += b_r

`turn` moves the reference keys to other rotary positions (ShiftPE, positions.py). References attend only
to themselves, so their output is exactly what the unpatched model gives. An attention mask (padded text)
keeps its meaning for each row's own keys; the reference columns are visible to every target query.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..common.weights import normalise_weights
from .positions import rotate_by, rotate_pairs
from .reference_rows import rows_per_chunk

EPS = 1e-5


def _check_range(name, value, low, high):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a finite number between {low} and {high}, got {value!r}")


@dataclass(frozen=True)
class SharingOptions:
    """The knobs of the method (defaults as in the original SDXL demo), checked when built."""

    adain_queries: bool = True
    adain_keys: bool = True
    adain_values: bool = False
    score_scale: float = 1.0  # the reference keys' factor (AlignedGen's style lambda; 0 to 100)
    score_shift: float = 0.0
    full_share: bool = False  # the original's full_attention_share: plain attention over every row
    share_attention: bool = True  # off: AdaIN still applies (as in the original), no row attends to another

    def __post_init__(self):
        _check_range("score_scale", self.score_scale, 0.0, 100.0)
        _check_range("score_shift", self.score_shift, -20.0, 20.0)


# ---------------------------------------------------------------- AdaIN

def mean_std(x, eps=EPS):
    """Per-channel mean and std over the token axis (-2); unbiased variance, as the original (a single
    token has no spread: variance 0 then, never NaN)."""
    var, mean = torch.var_mean(x, dim=-2, keepdim=True, correction=1 if x.shape[-2] > 1 else 0)
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


def image_statistics(ref, image, weights):
    """Per-channel mean and std of the references' image tokens, mixed over K references:
    ref (chunks, K, heads, L, dim) -> two (chunks, 1, heads, 1, dim)."""
    mean, std = mean_std(ref[..., image, :].transpose(1, 2))  # (chunks, heads, K, 1, dim)
    if ref.shape[1] > 1:
        mean, std = mixture_mean_std(mean, std, weights)
    return mean.transpose(1, 2), std.transpose(1, 2)


def align_image_tokens(x, ref, image, weights, enabled, frame=None):
    """x (chunks, targets, heads, L, dim) with its image tokens moved to the references' image statistics
    (AdaIN); text tokens as they were. frame: the rotations (chunks, rows, heads or 1, I, P, 2, 2) of the image
    tokens, undone around AdaIN."""
    if not enabled:
        return x
    own, theirs = x[..., image, :], ref[..., image, :]
    if frame is not None:
        refs = ref.shape[1]
        own = rotate_by(own, frame[:, refs:], inverse=True)
        theirs = rotate_by(theirs, frame[:, :refs], inverse=True)
    aligned = adain(own, *image_statistics(theirs, slice(None), weights))
    if frame is not None:
        aligned = rotate_by(aligned, frame[:, refs:])
    if image == slice(None):  # every token is an image token (UNets)
        return aligned
    out = x.clone()
    out[..., image, :] = aligned
    return out


# ---------------------------------------------------------------- the kernel and the reference columns

def attention_heads(q, k, v, key_bias=None, bias_channels=None, mask=None):
    """Scaled-dot-product attention over `(B, heads, L, dim)`, with an optional additive bias per key.

    key_bias: `(S,)` or broadcastable to `(B, S)`, added to the logits of each key. It travels as an
    extra channel in q (ones) and k (bias * sqrt(dim)), so no `(L, S)` logit or mask tensor is ever
    built and the fused kernels stay usable. `bias_channels` pads that extra channel to a
    kernel-friendly head size (8 on CUDA, 1 elsewhere by default). mask: as torch's SDPA takes it.
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
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)[..., :dim]


def reference_weights(refs, weights=None, device=None):
    """Per-reference weights renormalised to sum 1 (equal when not given)."""
    return normalise_weights(weights, refs, name="reference weights").to(device=device, dtype=torch.float32)


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


def reference_image_keys(ref_k, image, opts, key_turn, key_gain=None):
    """The references' image keys of a chunk as one sequence (chunks, 1, heads, K * image, dim): turned
    to their shifted positions (if any), their channels weighted by `key_gain` (2P,) (untwisted frequency
    bands, if any), then scaled by score_scale."""
    keys = ref_k[..., image, :]
    if key_turn is not None:
        keys = rotate_pairs(keys, key_turn)
    if key_gain is not None:
        keys = keys * key_gain.to(keys)
    if opts.score_scale != 1:
        keys = keys * opts.score_scale
    return _one_sequence(keys)


def _one_sequence(x):
    chunks, refs, heads, tokens, dim = x.shape
    return x.transpose(1, 2).reshape(chunks, 1, heads, refs * tokens, dim)


# ---------------------------------------------------------------- masks (padded text)

def mask_rows(mask, batch):
    """An attention mask as the host's kernels read it, one row per batch row: (B, 1 or heads, Lq or 1, Lk).
    A 2-D mask is (Lq, Lk) for every row; a 3-D one (B or 1, Lq or 1, Lk)."""
    if mask.ndim == 2:
        mask = mask[None, None]
    elif mask.ndim == 3:
        mask = mask[:, None]
    return mask.expand(batch, *mask.shape[1:])


def with_reference_columns(mask, columns, bias, dtype):
    """The targets' mask (n, h, q, L) extended over `columns` reference keys, which every query sees; their
    score shift (the last `columns` entries of `bias`) goes into the mask, which then is additive."""
    shape = (*mask.shape[:-1], columns)
    if bias is None and mask.dtype == torch.bool:
        return torch.cat([mask, mask.new_ones(shape)], dim=-1)
    if mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)
    extra = mask.new_zeros(shape) if bias is None else bias[-columns:].to(mask).expand(shape)
    return torch.cat([mask.to(dtype), extra], dim=-1)


# ---------------------------------------------------------------- the method

def share(q, k, v, chunks, image=None, refs=1, opts=None, weights=None, attend=attention_heads, key_turn=None,
          mask=None, frame=None, key_gain=None):
    """StyleAligned attention over a whole batch `(B, heads, L, dim)` -> `(B, heads, L, dim)`; see the module
    docstring. frame: the host's RoPE rotations of the image tokens, (B or 1, heads or 1, I, P, 2, 2); key_turn
    and key_gain move or weight the reference keys' rotary channels (positions.py).
    `attend(q, k, v, key_bias=None, mask=None)` computes each attention (the host's kernel, or another pack's,
    may stand in for ours). Chunks of `refs` rows or fewer have no target and run as plain
    attention. As in the original, `share_attention` off keeps AdaIN but no row attends to another, and
    `full_share` is plain attention over all rows of a chunk."""
    opts = opts or SharingOptions()
    image = slice(None) if image is None else image
    batch, heads, tokens, dim = q.shape
    rows = rows_per_chunk(batch, chunks)
    if rows <= refs:
        return attend(q, k, v, mask=mask)
    if mask is not None:
        mask = mask_rows(mask, batch)
        mask = mask.reshape(chunks, rows, *mask.shape[1:])
    if opts.full_share:
        return _full_share(q, k, v, chunks, attend, mask)
    w = reference_weights(refs, weights, q.device)
    q, k, v = (t.reshape(chunks, rows, heads, tokens, dim) for t in (q, k, v))
    if frame is not None:
        frame = frame.expand(batch, *frame.shape[1:]).reshape(chunks, rows, *frame.shape[1:])
    ref_q, ref_k, ref_v = q[:, :refs], k[:, :refs], v[:, :refs]
    q_t = align_image_tokens(q[:, refs:], ref_q, image, w, opts.adain_queries, frame)
    k_t = align_image_tokens(k[:, refs:], ref_k, image, w, opts.adain_keys, frame)
    v_t = align_image_tokens(v[:, refs:], ref_v, image, w, opts.adain_values)  # values are never turned
    mask_r, mask_t = (None, None) if mask is None else (mask[:, :refs].flatten(0, 1), mask[:, refs:].flatten(0, 1))
    out_r = attend(*(t.flatten(0, 1) for t in (ref_q, ref_k, ref_v)), mask=mask_r)
    if not opts.share_attention:
        return _rows_in_order(out_r, attend(*(t.flatten(0, 1) for t in (q_t, k_t, v_t)), mask=mask_t), chunks)
    targets = rows - refs
    ref_keys = reference_image_keys(ref_k, image, opts, key_turn, key_gain)
    keys = torch.cat([k_t, ref_keys.expand(-1, targets, -1, -1, -1)], dim=-2)
    values = torch.cat([v_t, _one_sequence(ref_v[..., image, :]).expand(-1, targets, -1, -1, -1)], dim=-2)
    image_tokens = len(range(tokens)[image])
    bias = reference_key_bias(opts, w, image_tokens, tokens, q.device, q.dtype)
    q_t, keys, values = (t.flatten(0, 1) for t in (q_t, keys, values))
    if mask_t is None:
        out_t = attend(q_t, keys, values, key_bias=bias)
    else:
        out_t = attend(q_t, keys, values, mask=with_reference_columns(mask_t, refs * image_tokens, bias, q.dtype))
    return _rows_in_order(out_r, out_t, chunks)


def _rows_in_order(out_r, out_t, chunks):
    """Reference and target outputs back into the batch's order (chunk by chunk, references first)."""
    out_r, out_t = (o.reshape(chunks, -1, *o.shape[1:]) for o in (out_r, out_t))
    return torch.cat([out_r, out_t], dim=1).flatten(0, 1)


def _full_share(q, k, v, chunks, attend, mask):
    """Every token of a chunk attends to every token of every row of it, plainly (the original's
    full_attention_share); the references then see the targets too. A mask (chunks, rows, h, 1, L) of keys
    (padded text) hides each row's padded keys from every row; a mask with one row per query has no meaning
    across rows and is refused."""
    batch, heads, tokens, dim = q.shape
    rows = batch // chunks
    joined = (t.reshape(chunks, rows, heads, tokens, dim).transpose(1, 2).reshape(chunks, heads, rows * tokens, dim)
              for t in (q, k, v))
    if mask is not None:
        if mask.shape[-2] != 1:
            raise ValueError("full_attention_share cannot carry this model's attention mask (one row per query); "
                             "turn full_attention_share off")
        mask = mask.permute(0, 2, 3, 1, 4).reshape(chunks, mask.shape[2], 1, rows * tokens)  # rows' keys in a row
    out = attend(*joined, mask=mask)  # (chunks, heads, rows * tokens, dim)
    return out.reshape(chunks, heads, rows, tokens, dim).transpose(1, 2).reshape(batch, heads, tokens, dim)


# ---------------------------------------------------------------- the two layouts the hosts use

def shared_attention(q, k, v, heads, chunks, refs=1, opts=None, weights=None):
    """`share` on the UNet layout `(B, N, heads*dim)`, every token an image token."""
    split = (t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v))
    return share(*split, chunks, None, refs, opts, weights).transpose(1, 2).flatten(2)


def attention(q, k, v, heads, key_bias=None, bias_channels=None):
    """Our kernel on the UNet layout `(..., L, heads*dim)` (see `attention_heads`)."""
    lead, (length, channels) = q.shape[:-2], q.shape[-2:]
    q, k, v = (t.reshape(-1, t.shape[-2], heads, channels // heads).transpose(1, 2) for t in (q, k, v))
    out = attention_heads(q, k, v, key_bias, bias_channels)
    return out.transpose(1, 2).reshape(*lead, length, channels)


def attend_flat(q, k, v, key_bias=None):
    """Our own kernel with the DiT blocks' output layout: `(n, heads, L, dim)` in, `(n, L, heads*dim)` out."""
    return attention_heads(q, k, v, key_bias).transpose(1, 2).flatten(2)


def shared_joint_attention(q, k, v, chunks, image, refs=1, opts=None, weights=None, key_turn=None, mask=None,
                           frame=None, key_gain=None):
    """`share` on a DiT's joint sequence `(B, heads, L, dim)`, out in the blocks' layout `(B, L, heads*dim)`."""
    out = share(q, k, v, chunks, image, refs, opts, weights, key_turn=key_turn, mask=mask, frame=frame,
                key_gain=key_gain)
    return out.transpose(1, 2).flatten(2)
