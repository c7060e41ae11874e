"""Pure tests (float64) of StyleAligned on joint text+image attention and of the ShiftPE turn."""

import math

import pytest
import torch
from style_aligned.core.alignment import attention as joint
from style_aligned.core.alignment import positions as pos
from style_aligned.core.alignment.attention import EPS, SharingOptions

HEADS, DIM, TEXT, IMAGE = 2, 8, 3, 5


def _qkv(batch, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, HEADS, TEXT + IMAGE, DIM, generator=gen, dtype=torch.float64) for _ in range(3)]


def _explicit(q, k, v, chunks, refs, opts, weights=None, key_turn=None):
    """The method written out plainly: per chunk, per target, per head, a full softmax."""
    batch, heads, tokens, dim = q.shape
    rows = batch // chunks
    img = slice(TEXT, tokens)
    w = torch.full((refs,), 1.0 / refs, dtype=torch.float64) if weights is None else torch.tensor(weights).double()
    w = w / w.sum()
    out = torch.empty(batch, tokens, heads * dim, dtype=torch.float64)

    def attend(qq, kk, vv, bias):  # (heads, L, dim) -> (L, heads*dim)
        logits = qq @ kk.transpose(1, 2) / math.sqrt(dim) + bias
        return (logits.softmax(-1) @ vv).transpose(0, 1).reshape(tokens, heads * dim)

    def mixed_stats(x):  # x (refs, heads, image, dim): mixture over references, per head and channel
        means, varis = x.mean(2), x.var(2) + EPS
        mean = (w.view(-1, 1, 1) * means).sum(0)
        var = (w.view(-1, 1, 1) * (varis - EPS + means.square())).sum(0) - mean.square() + EPS
        return mean.unsqueeze(1), var.sqrt().unsqueeze(1)

    def align(x, ref):
        x = x.clone()
        mean, std = mixed_stats(ref[:, :, img])
        own = x[:, img]
        x[:, img] = (own - own.mean(1, keepdim=True)) / (own.var(1, keepdim=True) + EPS).sqrt() * std + mean
        return x

    for c in range(chunks):
        base = c * rows
        refs_q, refs_k, refs_v = (t[base:base + refs] for t in (q, k, v))
        for r in range(refs):
            out[base + r] = attend(q[base + r], k[base + r], v[base + r], 0.0)
        for t in range(base + refs, base + rows):
            qt, kt = align(q[t], refs_q), align(k[t], refs_k)
            ref_keys = [refs_k[r][:, img] for r in range(refs)]
            if key_turn is not None:
                ref_keys = [_complex_turn(key, key_turn) for key in ref_keys]
            keys = torch.cat([kt] + [opts.score_scale * key for key in ref_keys], dim=1)
            values = torch.cat([v[t]] + [refs_v[r][:, img] for r in range(refs)], dim=1)
            shifts = [float(opts.score_shift + math.log(refs * w[r])) for r in range(refs)]
            bias = torch.tensor([0.0] * tokens + [s for s in shifts for _ in range(IMAGE)], dtype=torch.float64)
            out[t] = attend(qt, keys, values, bias)
    return out


def _complex_turn(x, angles):
    """Turn channel pairs as complex numbers: (a + ib) * e^(i angle)."""
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).flatten(-2)


@pytest.mark.parametrize("chunks,refs,weights", [(1, 1, None), (2, 1, None), (2, 2, [0.7, 0.3])])
@pytest.mark.parametrize("shift", [False, True])
def test_matches_explicit_softmax(chunks, refs, weights, shift):
    q, k, v = _qkv(chunks * (refs + 2))
    opts = SharingOptions(score_scale=1.1, score_shift=0.4)
    turn = pos.shift_angles([2, 2, 4], 10000, axis=2, distance=4) if shift else None
    got = joint.shared_joint_attention(q, k, v, chunks, slice(TEXT, None), refs, opts, weights, key_turn=turn)
    want = _explicit(q, k, v, chunks, refs, opts, weights, turn)
    # the pack carries reference weights in float32, hence 1e-7 with unequal weights
    assert torch.allclose(got, want, atol=1e-10 if weights is None else 1e-7)


def test_references_get_plain_attention_and_targets_do_not():
    q, k, v = _qkv(3)
    got = joint.shared_joint_attention(q, k, v, 1, slice(TEXT, None))
    plain = joint.attend_flat(q, k, v)
    assert torch.allclose(got[0], plain[0], atol=1e-12)
    assert not torch.allclose(got[1:], plain[1:], atol=1e-3)


def test_adain_leaves_text_tokens_bit_identical():
    q, _, _ = _qkv(3)
    rows = q.reshape(1, 3, HEADS, TEXT + IMAGE, DIM)
    aligned = joint.align_image_tokens(rows[:, 1:], rows[:, :1], slice(TEXT, None), torch.ones(1), True)
    assert torch.equal(aligned[..., :TEXT, :], rows[:, 1:, ..., :TEXT, :])
    assert not torch.allclose(aligned[..., TEXT:, :], rows[:, 1:, ..., TEXT:, :])
    mean, std = joint.image_statistics(rows[:, :1], slice(TEXT, None), torch.ones(1))
    assert torch.allclose(aligned[..., TEXT:, :].mean(-2, keepdim=True), mean.expand_as(aligned[..., :1, :]))


def _rope(x, positions, axes_dim, theta):
    """RoPE written from its definition: pair j of axis a turns by positions[a] * theta^(-2j/dim_a)."""
    angles = torch.cat([p * torch.tensor([theta ** (-2 * j / d) for j in range(d // 2)], dtype=torch.float64)
                        for p, d in zip(positions, axes_dim, strict=True)])
    return _complex_turn(x, angles)


def test_shift_turn_equals_rope_at_the_shifted_position():
    axes_dim, theta = [4, 6, 6], 10000
    key = torch.randn(3, sum(axes_dim), dtype=torch.float64)
    at = _rope(key, (0, 2, 3), axes_dim, theta)
    turned = pos.rotate_pairs(at, pos.shift_angles(axes_dim, theta, axis=2, distance=5))
    assert torch.allclose(turned, _rope(key, (0, 2, 8), axes_dim, theta), atol=1e-12)
    assert not torch.allclose(turned, at, atol=1e-3)


def test_none_is_plain_concatenation():
    assert pos.reference_key_turn("none", [4, 6, 6], 10000, 2, 5) is None
    q, k, v = _qkv(3)
    opts = SharingOptions()
    got = joint.shared_joint_attention(q, k, v, 1, slice(TEXT, None), opts=opts, key_turn=None)
    assert torch.allclose(got, _explicit(q, k, v, 1, 1, opts), atol=1e-10)


def test_bad_position_mode_is_named():
    with pytest.raises(ValueError, match="reference_positions must be one of"):
        pos.reference_key_turn("beside", [4, 6, 6], 10000, 2, 5)


@pytest.mark.parametrize("batch,chunks", [(1, 1), (2, 2)])
def test_chunks_without_targets_run_plain_attention(batch, chunks):
    q, k, v = _qkv(batch)
    got = joint.shared_joint_attention(q, k, v, chunks, slice(TEXT, None))
    assert torch.equal(got, joint.attend_flat(q, k, v))


def test_full_share_is_plain_attention_over_the_chunk():
    q, k, v = _qkv(2)
    got = joint.shared_joint_attention(q, k, v, 1, slice(TEXT, None), opts=SharingOptions(full_share=True))
    keys, values = (t.transpose(0, 1).reshape(1, HEADS, -1, DIM) for t in (k, v))
    for row in range(2):
        want = joint.attend_flat(q[row:row + 1], keys, values)
        assert torch.allclose(got[row], want[0], atol=1e-12)


def test_share_attention_off_keeps_adain_without_reference_keys():
    q, k, v = _qkv(2)
    got = joint.shared_joint_attention(q, k, v, 1, slice(TEXT, None), opts=SharingOptions(share_attention=False))
    rows = [t.reshape(1, 2, HEADS, TEXT + IMAGE, DIM) for t in (q, k)]
    qt, kt = (joint.align_image_tokens(r[:, 1:], r[:, :1], slice(TEXT, None), torch.ones(1), True)[0] for r in rows)
    assert torch.allclose(got[1], joint.attend_flat(qt, kt, v[1:])[0], atol=1e-12)


def _explicit_masked(q, k, v, mask, opts, refs=1, weights=None):
    """Masked joint attention written from its definition, one chunk: the references attend to their own keys
    under their own mask; a target's query i attends to its own keys under its mask row i, and to every
    reference image key (never masked) with the score shift log(K w_r) + shift."""
    batch, heads, tokens, dim = q.shape
    w = torch.full((refs,), 1.0 / refs, dtype=torch.float64) if weights is None else torch.tensor(weights).double()
    w = w / w.sum()
    additive = mask if mask.dtype != torch.bool else torch.where(mask, 0.0, -math.inf).double()
    additive = additive.expand(batch, heads, tokens, tokens)
    img = slice(TEXT, tokens)
    out = torch.empty(batch, tokens, heads * dim, dtype=torch.float64)

    def softmax_attend(qq, kk, vv, bias):  # (heads, L, dim), bias (heads, L, S)
        logits = qq @ kk.transpose(1, 2) / math.sqrt(dim) + bias
        return (logits.softmax(-1) @ vv).transpose(0, 1).reshape(tokens, heads * dim)

    def stats(x):  # mixture over references of per-head, per-channel image-token statistics
        means, varis = x[:, :, img].mean(2), x[:, :, img].var(2) + EPS
        mean = (w.view(-1, 1, 1) * means).sum(0)
        var = (w.view(-1, 1, 1) * (varis - EPS + means.square())).sum(0) - mean.square() + EPS
        return mean.unsqueeze(1), var.sqrt().unsqueeze(1)

    def align(x, ref):
        x = x.clone()
        mean, std = stats(ref)
        own = x[:, img]
        x[:, img] = (own - own.mean(1, keepdim=True)) / (own.var(1, keepdim=True) + EPS).sqrt() * std + mean
        return x

    for r in range(refs):
        out[r] = softmax_attend(q[r], k[r], v[r], additive[r])
    shifts = [float(opts.score_shift + math.log(refs * w[r])) for r in range(refs)]
    ref_bias = torch.tensor([s for s in shifts for _ in range(IMAGE)], dtype=torch.float64)
    for t in range(refs, batch):
        keys = torch.cat([align(k[t], k[:refs])] + [opts.score_scale * k[r][:, img] for r in range(refs)], dim=1)
        values = torch.cat([v[t]] + [v[r][:, img] for r in range(refs)], dim=1)
        bias = torch.cat([additive[t], ref_bias.expand(heads, tokens, -1)], dim=-1)
        out[t] = softmax_attend(align(q[t], q[:refs]), keys, values, bias)
    return out


def _masks(batch):
    """The masks the host's DiTs pass: padded text hidden from every query (Qwen-Image's (B, 1, L) key mask,
    boolean or additive), and one row per query (a (B, L, L) mask such as Flux's image-prompt mask)."""
    gen = torch.Generator().manual_seed(7)
    keep = torch.ones(batch, 1, TEXT + IMAGE, dtype=torch.bool)
    keep[:, :, 1:TEXT] = torch.rand(batch, 1, TEXT - 1, generator=gen) > 0.5  # padding differs per row
    keep[0, 0, 2] = False  # the reference has padding too
    additive = torch.where(keep, 0.0, -1e4).double()
    square = torch.randn(batch, TEXT + IMAGE, TEXT + IMAGE, generator=gen, dtype=torch.float64)
    return {"key mask (bool)": keep, "key mask (additive)": additive, "one row per query": square}


@pytest.mark.parametrize("name", ["key mask (bool)", "key mask (additive)", "one row per query"])
@pytest.mark.parametrize("refs,weights", [(1, None), (2, [0.7, 0.3])])
def test_masked_attention_matches_an_explicit_masked_softmax(name, refs, weights):
    q, k, v = _qkv(refs + 2, seed=3)
    mask = _masks(refs + 2)[name]
    opts = SharingOptions(score_scale=1.1, score_shift=0.4)
    got = joint.shared_joint_attention(q, k, v, 1, slice(TEXT, None), refs, opts, weights, mask=mask)
    want = _explicit_masked(q, k, v, mask[:, None], opts, refs, weights)
    assert torch.allclose(got, want, atol=1e-10 if weights is None else 1e-7)
    plain = joint.attention_heads(q, k, v, mask=joint.mask_rows(mask, refs + 2)).transpose(1, 2).flatten(2)
    assert torch.allclose(got[:refs], plain[:refs], atol=1e-12)  # the references: exactly their own attention
    assert not torch.allclose(got[refs:], plain[refs:], atol=1e-3)


def test_a_masked_text_key_of_a_target_stays_hidden():
    q, k, v = _qkv(3, seed=4)
    keep = torch.ones(3, 1, TEXT + IMAGE, dtype=torch.bool)
    keep[2, 0, 1] = False
    got = joint.shared_joint_attention(q, k, v, 1, slice(TEXT, None), mask=keep)
    v_changed = v.clone()
    v_changed[2, :, 1] += 100.0  # the hidden key's value cannot reach its row's output
    again = joint.shared_joint_attention(q, k, v_changed, 1, slice(TEXT, None), mask=keep)
    assert torch.allclose(got, again, atol=1e-12)


def test_a_single_image_token_gives_finite_rows():
    """A 16 px image is one image token: AdaIN statistics over one token have no spread, never NaN."""
    gen = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(3, HEADS, TEXT + 1, DIM, generator=gen, dtype=torch.float64) for _ in range(3))
    got = joint.shared_joint_attention(q, k, v, 1, slice(TEXT, None))
    assert torch.isfinite(got).all()
