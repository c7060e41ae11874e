"""StyleAligned on the joint text+image attention of diffusion transformers (Flux, SD3, Qwen-Image), as
AlignedGen (2025) shares it: each target's text and image tokens attend to [its own tokens ; the
references' IMAGE keys and values]; AdaIN moves the targets' image-token queries and keys to the
references' image-token statistics and leaves text tokens alone; the reference keys may be turned to
other positions first (ShiftPE, see positions.py). References attend only to themselves, so their
output is the unpatched model's.

q, k, v are `(B, heads, L, dim)` with the image tokens at `image` (a slice of L); the batch is `chunks`
equal chunks whose first `refs` rows are references. `attend(q, k, v, key_bias=None)` returns
`(n, L, heads*dim)`, the layout the DiT blocks expect back.
"""

import torch

from .attention import (
    SharingOptions,
    adain,
    attention_heads,
    mean_std,
    mixture_mean_std,
    reference_key_bias,
    reference_weights,
)
from .positions import rotate_pairs
from .reference_rows import rows_per_chunk


def attend_flat(q, k, v, key_bias=None):
    """Our own kernel in the blocks' layout: `(n, heads, L, dim)` in, `(n, L, heads*dim)` out."""
    return attention_heads(q, k, v, key_bias).transpose(1, 2).flatten(2)


def image_statistics(ref, image, weights):
    """Per-channel mean and std of the references' image tokens, mixed over K references:
    ref (chunks, K, heads, L, dim) -> two (chunks, 1, heads, 1, dim)."""
    mean, std = mean_std(ref[..., image, :].transpose(1, 2))  # (chunks, heads, K, 1, dim)
    if ref.shape[1] > 1:
        mean, std = mixture_mean_std(mean, std, weights)
    return mean.transpose(1, 2), std.transpose(1, 2)


def align_image_tokens(x, ref, image, weights, enabled):
    """x with its image tokens moved to the references' image statistics (AdaIN); text tokens as they were."""
    if not enabled:
        return x
    out = x.clone()
    out[..., image, :] = adain(x[..., image, :], *image_statistics(ref, image, weights))
    return out


def reference_image_keys(ref_k, image, opts, key_turn):
    """The references' image keys of a chunk as one sequence (chunks, 1, heads, K * image, dim): turned
    to their shifted positions (if any), then scaled by score_scale."""
    keys = ref_k[..., image, :]
    if key_turn is not None:
        keys = rotate_pairs(keys, key_turn)
    if opts.score_scale != 1:
        keys = keys * opts.score_scale
    return _one_sequence(keys)


def _one_sequence(x):
    chunks, refs, heads, tokens, dim = x.shape
    return x.transpose(1, 2).reshape(chunks, 1, heads, refs * tokens, dim)


def shared_joint_attention(q, k, v, chunks, image, refs=1, opts=None, weights=None, attend=attend_flat,
                           key_turn=None):
    """StyleAligned joint attention over a whole batch; see the module docstring. Chunks of `refs` rows
    or fewer have no target and run as plain attention."""
    opts = opts or SharingOptions()
    batch, heads, tokens, dim = q.shape
    rows = rows_per_chunk(batch, chunks)
    if rows <= refs:
        return attend(q, k, v)
    if opts.full_share:
        return _full_share(q, k, v, chunks, attend)
    w = reference_weights(refs, weights, q.device)
    q, k, v = (t.reshape(chunks, rows, heads, tokens, dim) for t in (q, k, v))
    ref_q, ref_k, ref_v = q[:, :refs], k[:, :refs], v[:, :refs]
    q_t = align_image_tokens(q[:, refs:], ref_q, image, w, opts.adain_queries)
    k_t = align_image_tokens(k[:, refs:], ref_k, image, w, opts.adain_keys)
    v_t = align_image_tokens(v[:, refs:], ref_v, image, w, opts.adain_values)
    targets = rows - refs
    out_r = attend(*(t.flatten(0, 1) for t in (ref_q, ref_k, ref_v)))
    if not opts.share_attention:
        out_t = attend(*(t.flatten(0, 1) for t in (q_t, k_t, v_t)))
        return _rows_in_order(out_r, out_t, chunks)
    image_tokens = len(range(tokens)[image])
    keys = torch.cat([k_t, reference_image_keys(ref_k, image, opts, key_turn).expand(-1, targets, -1, -1, -1)], -2)
    values = torch.cat([v_t, _one_sequence(ref_v[..., image, :]).expand(-1, targets, -1, -1, -1)], dim=-2)
    bias = reference_key_bias(opts, w, image_tokens, tokens, q.device, q.dtype)
    out_t = attend(q_t.flatten(0, 1), keys.flatten(0, 1), values.flatten(0, 1), key_bias=bias)
    return _rows_in_order(out_r, out_t, chunks)


def _rows_in_order(out_r, out_t, chunks):
    """Reference and target outputs back into the batch's order (chunk by chunk, references first)."""
    out_r, out_t = (o.reshape(chunks, -1, *o.shape[1:]) for o in (out_r, out_t))
    return torch.cat([out_r, out_t], dim=1).flatten(0, 1)


def _full_share(q, k, v, chunks, attend):
    """Every token of a chunk attends to every token of every row of it, plainly (the original's
    full_attention_share); the references then see the targets too."""
    batch, heads, tokens, dim = q.shape
    rows = batch // chunks
    joined = (t.reshape(chunks, rows, heads, tokens, dim).transpose(1, 2).reshape(chunks, heads, rows * tokens, dim)
              for t in (q, k, v))
    out = attend(*joined)  # (chunks, rows * tokens, heads * dim)
    return out.reshape(batch, tokens, heads * dim)
