"""Pure tests of the shared-attention math against an explicit float64 softmax."""

import math

import pytest
import torch
from style_aligned.core.alignment import attention as sa


def _qkv(batch, tokens=6, channels=8, seed=0, dtype=torch.float32, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, tokens, channels, generator=gen, dtype=dtype) * scale for _ in range(3)]


def _explicit(q, k, v, heads, chunks, refs=1, opts=None, weights=None):
    """The method written out plainly in float64: per chunk, per target, a full softmax."""
    opts = opts or sa.SharingOptions()
    q, k, v = (t.double() for t in (q, k, v))
    batch, tokens, channels = q.shape
    dim = channels // heads
    rows = batch // chunks
    w = torch.full((refs,), 1.0 / refs, dtype=torch.float64) if weights is None else torch.tensor(weights).double()
    w = w / w.sum()
    out = torch.empty_like(q)

    def stats(x):
        return x.mean(0), (x.var(0) + sa.EPS).sqrt()

    def heads_of(x):
        return x.view(-1, heads, dim).transpose(0, 1)

    def attend(qq, kk, vv, bias):
        logits = heads_of(qq) @ heads_of(kk).transpose(1, 2) / math.sqrt(dim) + bias
        return (logits.softmax(-1) @ heads_of(vv)).transpose(0, 1).reshape(-1, channels)

    for c in range(chunks):
        base = c * rows
        for r in range(refs):
            i = base + r
            out[i] = attend(q[i], k[i], v[i], 0.0)
        ref_rows = range(base, base + refs)
        mixture = {}
        for name, x in (("q", q), ("k", k), ("v", v)):
            means = torch.stack([stats(x[i])[0] for i in ref_rows])
            seconds = torch.stack([stats(x[i])[1] ** 2 - sa.EPS + stats(x[i])[0] ** 2 for i in ref_rows])
            m = (w[:, None] * means).sum(0)
            mixture[name] = (m, ((w[:, None] * seconds).sum(0) - m**2 + sa.EPS).sqrt())
        for i in range(base + refs, base + rows):
            qi, ki, vi = q[i], k[i], v[i]
            for name, flag in (("q", opts.adain_queries), ("k", opts.adain_keys), ("v", opts.adain_values)):
                if flag:
                    x = {"q": qi, "k": ki, "v": vi}[name]
                    m, s = stats(x)
                    x = (x - m) / s * mixture[name][1] + mixture[name][0]
                    qi, ki, vi = (x if name == n else y for n, y in zip("qkv", (qi, ki, vi), strict=True))
            keys = torch.cat([ki] + [opts.score_scale * k[j] for j in ref_rows])
            values = torch.cat([vi] + [v[j] for j in ref_rows])
            bias = torch.cat([torch.zeros(tokens, dtype=torch.float64)]
                             + [torch.full((tokens,), opts.score_shift + math.log(refs * w[r]), dtype=torch.float64)
                                for r in range(refs)])
            out[i] = attend(qi, keys, values, bias)
    return out


@pytest.mark.parametrize("chunks,rows", [(1, 3), (2, 3), (3, 2)])
@pytest.mark.parametrize("shift", [0.0, math.log(2), -1.5])
def test_shared_attention_matches_explicit_softmax(chunks, rows, shift):
    opts = sa.SharingOptions(score_shift=shift, score_scale=0.8, adain_values=True)
    q, k, v = _qkv(chunks * rows)
    got = sa.shared_attention(q, k, v, heads=2, chunks=chunks, opts=opts)
    want = _explicit(q, k, v, 2, chunks, opts=opts)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)


def test_multi_reference_weights_match_explicit_softmax():
    opts = sa.SharingOptions(score_shift=0.3)
    q, k, v = _qkv(2 * 4, seed=3)
    got = sa.shared_attention(q, k, v, heads=2, chunks=2, refs=2, opts=opts, weights=[3.0, 1.0])
    want = _explicit(q, k, v, 2, 2, refs=2, opts=opts, weights=[3.0, 1.0])
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)


def test_reference_rows_are_plain_self_attention():
    q, k, v = _qkv(6, seed=1)
    got = sa.shared_attention(q, k, v, heads=2, chunks=2, opts=sa.SharingOptions(score_shift=1.0))
    plain = sa.attention(q, k, v, heads=2)
    torch.testing.assert_close(got[[0, 3]], plain[[0, 3]], rtol=0, atol=1e-6)
    assert not torch.allclose(got[[1, 2, 4, 5]], plain[[1, 2, 4, 5]], atol=1e-3)


def test_chunk_without_targets_is_plain_attention():
    q, k, v = _qkv(2, seed=2)
    got = sa.shared_attention(q, k, v, heads=2, chunks=2)
    torch.testing.assert_close(got, sa.attention(q, k, v, heads=2))


def test_adain_matches_formula():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(10, 4, generator=gen) * 3 + 1
    ref = torch.randn(12, 4, generator=gen) * 0.5 - 2
    out = sa.adain(x, *sa.mean_std(ref))
    want = (x - x.mean(0)) / (x.var(0) + sa.EPS).sqrt() * (ref.var(0) + sa.EPS).sqrt() + ref.mean(0)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(out.mean(0), ref.mean(0), atol=1e-5, rtol=0)


def test_shift_log_w_multiplies_reference_weight_by_w():
    """With identical own and reference keys, the reference's share of attention is w / (1 + w)."""
    gen = torch.Generator().manual_seed(5)
    q = torch.randn(2, 5, 4, generator=gen)
    k = torch.randn(1, 5, 4, generator=gen).expand(2, 5, 4).clone()
    v = torch.cat([torch.zeros(1, 5, 4), torch.ones(1, 5, 4)])  # reference values 0, own values 1
    for w in (0.5, 2.0, 7.0):
        opts = sa.SharingOptions(adain_queries=False, adain_keys=False, score_shift=math.log(w))
        out = sa.shared_attention(q, k, v, heads=1, chunks=1, opts=opts)
        own_share = out[1].mean().item()  # mass on own keys (value 1) = 1 / (1 + w)
        assert own_share == pytest.approx(1 / (1 + w), rel=1e-5)


def test_reference_weights_shift_mass_as_log_w_predicts():
    """Two references with weights w1:w2 receive attention mass in ratio w1:w2 (equal keys)."""
    k_row = torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(6))
    k = k_row.expand(3, 4, 4).clone()
    q = torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(7))
    v = torch.stack([torch.full((4, 4), 1.0), torch.full((4, 4), 0.0), torch.full((4, 4), 0.0)])
    opts = sa.SharingOptions(adain_queries=False, adain_keys=False)
    out = sa.shared_attention(q, k, v, heads=1, chunks=1, refs=2, opts=opts, weights=[3.0, 1.0])
    # keys equal => masses proportional to 1 (own), 2*0.75, 2*0.25; reference 1 carries value 1
    assert out[2].mean().item() == pytest.approx(1.5 / (1 + 1.5 + 0.5), rel=1e-5)


def test_bias_channel_padding_does_not_change_result():
    q, k, v = _qkv(3, seed=8)
    bias = torch.linspace(-2, 2, 6)
    one = sa.attention(q, k, v, heads=2, key_bias=bias, bias_channels=1)
    eight = sa.attention(q, k, v, heads=2, key_bias=bias, bias_channels=8)
    torch.testing.assert_close(one, eight)


@pytest.mark.parametrize("scale", [1e-6, 1e4])
def test_extreme_scales_stay_finite(scale):
    q, k, v = _qkv(4, seed=9, scale=scale)
    out = sa.shared_attention(q, k, v, heads=2, chunks=2, opts=sa.SharingOptions(score_shift=math.log(2)))
    assert torch.isfinite(out).all()


def test_constant_tokens_stay_finite():
    q = torch.ones(3, 6, 8)
    out = sa.shared_attention(q, q.clone(), q.clone(), heads=2, chunks=1)
    assert torch.isfinite(out).all()


def test_full_share_every_row_attends_to_every_row():
    q, k, v = _qkv(3, seed=10)
    opts = sa.SharingOptions(adain_queries=False, adain_keys=False, full_share=True)
    got = sa.shared_attention(q, k, v, heads=2, chunks=1, opts=opts)
    joint = sa.attention(q.reshape(1, -1, 8), k.reshape(1, -1, 8), v.reshape(1, -1, 8), heads=2)
    torch.testing.assert_close(got, joint.reshape(3, 6, 8))


def test_bad_layout_and_weights_are_rejected():
    q, k, v = _qkv(5)
    with pytest.raises(ValueError, match="does not split"):
        sa.shared_attention(q, k, v, heads=2, chunks=2)
    with pytest.raises(ValueError, match="reference weights"):
        sa.shared_attention(q, k, v, heads=2, chunks=1, refs=2, weights=[1.0, float("nan")])


def test_one_weighted_reference_is_the_single_reference_path():
    q, k, v = _qkv(2 * 3, seed=11)
    opts = sa.SharingOptions(score_shift=0.4, adain_values=True)
    single = sa.shared_attention(q, k, v, heads=2, chunks=2, opts=opts)
    weighted = sa.shared_attention(q, k, v, heads=2, chunks=2, refs=1, opts=opts, weights=[3.0])
    torch.testing.assert_close(weighted, single, rtol=0, atol=0)


def test_full_share_is_plain_joint_attention_whatever_the_other_knobs():
    """The original's full_attention_share runs the default attention over every row of a chunk:
    AdaIN, score scale and score shift do not apply there."""
    q, k, v = _qkv(2 * 3, seed=12)
    knobs = sa.SharingOptions(adain_values=True, score_scale=1.7, score_shift=0.9, full_share=True)
    got = sa.shared_attention(q, k, v, heads=2, chunks=2, opts=knobs)
    joint = sa.attention(q.reshape(2, -1, 8), k.reshape(2, -1, 8), v.reshape(2, -1, 8), heads=2)
    torch.testing.assert_close(got, joint.reshape(6, 6, 8))


def test_without_sharing_adain_still_applies_as_in_the_original():
    """share_attention off: targets' queries and keys are moved to the reference's statistics, then
    every row attends only to itself; the reference rows are plain."""
    q, k, v = _qkv(2 * 3, seed=13)
    opts = sa.SharingOptions(share_attention=False)
    got = sa.shared_attention(q, k, v, heads=2, chunks=2, opts=opts)
    q4, k4 = q.reshape(2, 3, 6, 8), k.reshape(2, 3, 6, 8)
    expected = []
    for c in range(2):
        for r in range(3):
            qr, kr = q4[c, r], k4[c, r]
            if r:  # a target: AdaIN to row 0 of its chunk
                qr = sa.adain(qr, *sa.mean_std(q4[c, 0]))
                kr = sa.adain(kr, *sa.mean_std(k4[c, 0]))
            expected.append(sa.attention(qr[None], kr[None], v.reshape(2, 3, 6, 8)[c, r][None], heads=2)[0])
    torch.testing.assert_close(got, torch.stack(expected), rtol=1e-5, atol=1e-6)
    plain = sa.attention(q, k, v, heads=2)
    torch.testing.assert_close(got.reshape(2, 3, 6, 8)[:, 0], plain.reshape(2, 3, 6, 8)[:, 0])
    assert not torch.allclose(got.reshape(2, 3, 6, 8)[:, 1:], plain.reshape(2, 3, 6, 8)[:, 1:])
