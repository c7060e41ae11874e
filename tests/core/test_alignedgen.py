"""Pure float64 tests: our shared attention against AlignedGen's definition (Jiexuanz/AlignedGen,
aligngen/attention_processor.py), written out here from that definition, not from our code:

1. AdaIN on the image tokens' queries and keys BEFORE the rotary embedding, to the reference row's statistics;
2. RoPE on every row at its own positions;
3. each target attends to [its own keys ; the reference's image keys rotated at positions shifted one image
   width along x ("ShiftPE"), times the style lambda], values [own ; reference image values];
4. the reference row attends to itself only (constrain_first);
5. the style lambda is fixed, or (t / 1000)^2 in the "decrease" mode.
Then the untwisted reference keys (Untwisting RoPE, 2026) per frequency band.
"""

import math

import pytest
import torch
from style_aligned.core.alignment import attention as sa
from style_aligned.core.alignment import positions as pos

TEXT, HEADS = 3, 2
# name: (axes_dim, theta, image grid (rows, cols), x axis, text positions on every axis)
FAMILIES = {
    "flux / chroma": ([4, 6, 6], 10000, (2, 3), 2),
    "qwen-image": ([4, 6, 6], 10000, (3, 2), 2),
    "flux.2": ([4, 4, 4, 4], 2000, (2, 2), 2),
}


def _angles(positions, axes_dim, theta):
    """RoPE angles from the definition: pair j of axis a turns by position[a] * theta^(-2j / dim_a).
    positions (L, axes) -> (L, P)."""
    per_axis = [positions[:, a:a + 1] * torch.tensor([theta ** (-2 * j / d) for j in range(d // 2)],
                                                     dtype=torch.float64)
                for a, d in enumerate(axes_dim)]
    return torch.cat(per_axis, dim=1)


def _rope(x, angles):
    """x (..., L, 2P) turned pair by pair as complex numbers: (a + ib) e^(i angle)."""
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).flatten(-2)


def _matrices(angles):
    """The host's form of the same rotations (Flux's pe): (L, P, 2, 2) [[cos, -sin], [sin, cos]]."""
    cos, sin = angles.cos(), angles.sin()
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)


def _grid(axes_dim, rows, cols, x_axis, shift=0):
    """Positions of TEXT text tokens (all zero, as Flux's txt_ids) then the image grid (row, col) on the last
    two axes, the column moved by `shift`."""
    n = len(axes_dim)
    text = torch.zeros(TEXT, n, dtype=torch.float64)
    image = torch.zeros(rows * cols, n, dtype=torch.float64)
    r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    image[:, x_axis - 1], image[:, x_axis] = r.flatten().double(), c.flatten().double() + shift
    return torch.cat([text, image])


def _adain(x, ref):
    """AlignedGen's calc_mean_std / adain: per channel over tokens, unbiased variance, eps 1e-5."""
    mean, std = x.mean(-2, keepdim=True), (x.var(-2, keepdim=True) + 1e-5).sqrt()
    r_mean, r_std = ref.mean(-2, keepdim=True), (ref.var(-2, keepdim=True) + 1e-5).sqrt()
    return (x - mean) / std * r_std + r_mean


def _softmax_attend(q, k, v):
    return (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1) @ v


def alignedgen(q, k, v, family, style_lambda=1.0, adain=True, shift=True):
    """AlignedGen's attention for one chunk, from its definition. q, k, v: UN-rotated (B, heads, L, dim); row 0
    is the reference. Returns (B, heads, L, dim)."""
    axes_dim, theta, (rows, cols), x_axis = FAMILIES[family]
    img = slice(TEXT, None)
    angles = _angles(_grid(axes_dim, rows, cols, x_axis), axes_dim, theta)
    shifted = _angles(_grid(axes_dim, rows, cols, x_axis, shift=cols if shift else 0), axes_dim, theta)[img]
    q, k = q.clone(), k.clone()
    if adain:
        q[:, :, img] = _adain(q[:, :, img], q[:1, :, img])
        k[:, :, img] = _adain(k[:, :, img], k[:1, :, img])
    ref_keys = _rope(k[0, :, img], shifted) * style_lambda
    q_rot, k_rot = _rope(q, angles), _rope(k, angles)
    out = [_softmax_attend(q_rot[0], k_rot[0], v[0])]  # constrain_first: the reference sees itself
    for t in range(1, q.shape[0]):
        keys = torch.cat([k_rot[t], ref_keys], dim=-2)
        values = torch.cat([v[t], v[0, :, img]], dim=-2)
        out.append(_softmax_attend(q_rot[t], keys, values))
    return torch.stack(out)


def ours(q, k, v, family, style_lambda=1.0, adain=True, shift=True, frame=True):
    """Our shared attention as the host calls it: q and k already rotated by the host, its rotations as the
    frame, ShiftPE as an extra turn of the reference keys."""
    axes_dim, theta, (rows, cols), x_axis = FAMILIES[family]
    angles = _angles(_grid(axes_dim, rows, cols, x_axis), axes_dim, theta)
    opts = sa.SharingOptions(adain_queries=adain, adain_keys=adain, score_scale=style_lambda)
    turn = pos.shift_angles(axes_dim, theta, x_axis, cols) if shift else None
    rotations = _matrices(angles)[TEXT:][None, None] if frame else None
    return sa.share(_rope(q, angles), _rope(k, angles), v, 1, slice(TEXT, None), opts=opts, key_turn=turn,
                    frame=rotations)


def _qkv(family, batch=3, seed=0):
    axes_dim, _, (rows, cols), _ = FAMILIES[family]
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, HEADS, TEXT + rows * cols, sum(axes_dim))
    # a per-channel offset, as real projections have: AdaIN and the rotation then clearly do not commute
    return [torch.randn(shape, generator=gen, dtype=torch.float64) + torch.randn(shape[-1], generator=gen,
                                                                                  dtype=torch.float64)
            for _ in range(3)]


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("adain", [True, False], ids=["adain", "no adain"])
@pytest.mark.parametrize("shift", [True, False], ids=["shiftpe", "same positions"])
def test_equals_alignedgen(family, adain, shift):
    q, k, v = _qkv(family)
    got = ours(q, k, v, family, 1.1, adain, shift)
    want = alignedgen(q, k, v, family, 1.1, adain, shift)
    assert torch.allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("t", [950.0, 500.0, 60.0])
def test_the_decrease_mode_equals_alignedgen_at_three_steps(t):
    q, k, v = _qkv("flux / chroma", seed=1)
    style_lambda = (t / 1000) ** 2  # AlignedGen's set_timesteps, mode "decrease"
    assert torch.allclose(ours(q, k, v, "flux / chroma", style_lambda), alignedgen(q, k, v, "flux / chroma",
                                                                                   style_lambda), atol=1e-10)


def test_adain_on_rotated_vectors_is_not_alignedgen():
    """Without the frame, AdaIN runs on the host's rotated q and k: a different method, by a wide margin."""
    q, k, v = _qkv("flux / chroma", seed=2)
    want = alignedgen(q, k, v, "flux / chroma")
    rotated = ours(q, k, v, "flux / chroma", frame=False)
    assert (rotated - want).abs().amax() > 1e-2
    assert torch.allclose(ours(q, k, v, "flux / chroma"), want, atol=1e-10)


def test_the_reference_row_is_plain_attention_in_every_mode():
    q, k, v = _qkv("flux.2", seed=3)
    axes_dim, theta, (rows, cols), x_axis = FAMILIES["flux.2"]
    angles = _angles(_grid(axes_dim, rows, cols, x_axis), axes_dim, theta)
    q_rot, k_rot = _rope(q, angles), _rope(k, angles)
    plain = _softmax_attend(q_rot[0], k_rot[0], v[0])
    gain = pos.untwist_gains(axes_dim, 0.3, 1.5)
    for turn, key_gain in ((pos.shift_angles(axes_dim, theta, x_axis, cols), None), (None, gain)):
        out = sa.share(q_rot, k_rot, v, 1, slice(TEXT, None), key_turn=turn, key_gain=key_gain,
                       frame=_matrices(angles)[TEXT:][None, None])
        assert torch.allclose(out[0], plain, atol=1e-12)


def test_untwist_gains_follow_the_written_schedule_per_band():
    """s_d = high + (low - high) * (d / (n - 1))^2 over the n pairs of each axis, highest frequency first; both
    channels of a pair share it."""
    axes_dim, high, low = [4, 6, 8], 0.25, 1.5
    gains = pos.untwist_gains(axes_dim, high, low)
    expected = []
    for dim in axes_dim:
        n = dim // 2
        for d in range(n):
            expected += [high + (low - high) * (d / (n - 1)) ** 2] * 2
    assert torch.allclose(gains, torch.tensor(expected, dtype=torch.float64), atol=0)
    assert gains[0] == high and gains[3] == low  # axis 0: its 2 pairs span the whole range


def test_untwisted_reference_keys_weight_each_frequency_band():
    """Each reference key's logit against a target query is the sum over frequency bands of that band's part
    times its gain: computed band by band from the definition."""
    family = "flux / chroma"
    axes_dim, theta, (rows, cols), x_axis = FAMILIES[family]
    q, k, v = _qkv(family, seed=4)
    angles = _angles(_grid(axes_dim, rows, cols, x_axis), axes_dim, theta)
    q_rot, k_rot = _rope(q, angles), _rope(k, angles)
    gain = pos.untwist_gains(axes_dim, 0.25, 1.4)
    opts = sa.SharingOptions(adain_queries=False, adain_keys=False)
    got = sa.share(q_rot, k_rot, v, 1, slice(TEXT, None), opts=opts, key_gain=gain)
    dim = q.shape[-1]
    for t in (1, 2):
        bands = [(q_rot[t, ..., 2 * p:2 * p + 2] @ k_rot[0, :, TEXT:, 2 * p:2 * p + 2].transpose(-1, -2)) * gain[2 * p]
                 for p in range(dim // 2)]
        ref_logits = sum(bands) / math.sqrt(dim)
        own_logits = q_rot[t] @ k_rot[t].transpose(-1, -2) / math.sqrt(dim)
        weights = torch.cat([own_logits, ref_logits], -1).softmax(-1)
        want = weights @ torch.cat([v[t], v[0, :, TEXT:]], -2)
        assert torch.allclose(got[t], want, atol=1e-10)


def test_untwist_schedule_rises_linearly_from_layout_to_detail():
    assert pos.untwist_schedule(0.75, 1.4, 0.0) == pytest.approx((0.25, 1.0))
    assert pos.untwist_schedule(0.75, 1.4, 1.0) == pytest.approx((0.75, 1.4))
    assert pos.untwist_schedule(0.75, 1.4, 0.5) == pytest.approx((0.5, 1.2))
