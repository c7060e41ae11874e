"""Z-SAMB's SLERP blend through the Multi-Reference Blend node in the real host, against spherical interpolation
written here from its definition (float64), never the pack's blend functions; and its distance from the linear
blend, so a SLERP that became linear cannot pass."""

import math

import torch
from harness import host
from style_aligned.nodes.blend import MultiRefBlend

TOL = 1e-5  # float32 output against the float64 definition, relative to its largest value
EFFECT = 100 * TOL


def latents(count, seed=0, scales=None):
    gen = torch.Generator().manual_seed(seed)
    rows = [torch.randn(1, 4, 8, 8, generator=gen) for _ in range(count)]
    return [row * (scales[i] if scales else 1.0) for i, row in enumerate(rows)]


def blend(rows, weights, method="SLERP", keep_norm=True):
    inputs = {f"latent_{i + 1}": {"samples": row} for i, row in enumerate(rows)}
    return host.run_node(MultiRefBlend, method=method, weights=weights, keep_norm=keep_norm, **inputs)[0]["samples"]


def relative(a, b):
    return float((a.double() - b).abs().amax() / b.abs().amax())


def slerp(a, b, t):
    """Textbook SLERP of two whole latents (one angle over all their values), float64."""
    a, b = a.double(), b.double()
    omega = math.acos(float((a * b).sum() / (a.norm() * b.norm())))
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def with_norm(x, norm):
    return x * (norm / x.norm())


def test_two_references_are_the_textbook_slerp_and_far_from_linear():
    a, b = latents(2, scales=[1.0, 2.5])  # unequal norms: SLERP of the raw latents, not of their directions
    expected = slerp(a, b, 0.2)
    got = blend([a, b], "0.8, 0.2", keep_norm=False)
    assert got.shape == (1, 4, 8, 8) and relative(got, expected) <= TOL
    # keep_norm: the same direction at the references' weighted mean norm
    mean_norm = 0.8 * a.double().norm() + 0.2 * b.double().norm()
    kept = with_norm(expected, mean_norm)
    assert relative(blend([a, b], "0.8, 0.2"), kept) <= TOL
    linear = with_norm(0.8 * a.double() + 0.2 * b.double(), mean_norm)  # even at the same norm, another direction
    assert relative(linear, kept) >= EFFECT
    print(f"\nSLERP against linear (same norm): {relative(linear, kept):.2e} relative (tolerance {TOL})")
    assert relative(blend([a, b], "0.8, 0.2", method="Linear"), linear) <= TOL


def test_three_references_blend_to_their_weighted_spherical_mean():
    """For K > 2 the blend of equal-norm references points at their weighted spherical (Karcher) mean q, the point
    where the weighted sum of the log maps vanishes: sum_i w_i theta_i / sin(theta_i) (u_i - cos(theta_i) q) = 0."""
    rows = [row / row.norm() * 40.0 for row in latents(3, seed=1)]
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    got = blend(rows, "5, 3, 2").double().flatten()
    q = got / got.norm()
    pull = torch.zeros_like(q)
    for w, row in zip(weights, rows, strict=True):
        u = row.double().flatten() / row.double().norm()
        cos = float((u @ q).clamp(-1, 1))
        theta = math.acos(cos)
        pull += w * theta / math.sin(theta) * (u - cos * q)
    assert float(pull.norm()) <= TOL
    assert abs(float(got.norm()) - 40.0) <= 40.0 * TOL  # keep_norm: the references' (equal) norm
    linear = sum(w * row.double().flatten() for w, row in zip(weights, rows, strict=True))
    assert float((linear / linear.norm() - q).norm()) >= EFFECT
    # the mean does not depend on the order of the references
    assert relative(blend(rows[::-1], "2, 3, 5"), got.view(1, 4, 8, 8)) <= TOL
