"""Z-SAMB blends: Linear and weighted SLERP over whole latents."""

import itertools
import math

import pytest
import torch
from style_aligned.core.reference.blend import (
    blend_linear,
    blend_slerp,
    spherical_mean_coefficients,
    stack_references,
)

SHAPE = (4, 8, 6)


def refs(k, seed=0, shift=0.5):
    # VAE latents have a nonzero mean, so unrelated references are < 90 degrees apart
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(k, *SHAPE, generator=gen) + shift


def textbook_slerp(a, b, t):
    a64, b64 = a.double().flatten(), b.double().flatten()
    omega = math.acos(float(a64 @ b64 / (a64.norm() * b64.norm())))
    out = math.sin((1 - t) * omega) / math.sin(omega) * a64 + math.sin(t * omega) / math.sin(omega) * b64
    return out.reshape(1, *a.shape[-3:]).float()


@pytest.mark.parametrize("blend", [blend_linear, blend_slerp])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_weight_one_on_a_reference_returns_it(blend, k):
    latents = refs(k)
    for i in range(k):
        weights = [0.0] * k
        weights[i] = 1.0
        out = blend(latents, weights)
        assert out.shape == (1, *SHAPE)
        assert torch.allclose(out[0], latents[i], atol=1e-6)


@pytest.mark.parametrize("blend", [blend_linear, blend_slerp])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_permutation_symmetry(blend, k):
    latents, weights = refs(k, seed=k), [0.1 * (i + 1) + 0.05 * i * i for i in range(k)]
    expected = blend(latents, weights)
    for perm in itertools.permutations(range(k)):
        out = blend(latents[list(perm)], [weights[p] for p in perm])
        assert torch.allclose(out, expected, atol=1e-5), perm


@pytest.mark.parametrize("blend", [blend_linear, blend_slerp])
def test_weights_are_renormalised(blend):
    latents = refs(3, seed=3)
    assert torch.allclose(blend(latents, [1, 2, 3]), blend(latents, [10, 20, 30]), atol=1e-6)
    assert torch.allclose(blend(latents, [1, 2, 3]), blend(latents, [1 / 6, 2 / 6, 3 / 6]), atol=1e-6)


def test_linear_is_the_weighted_sum():
    latents = refs(3, seed=4)
    out = blend_linear(latents, [1, 1, 2])
    assert torch.allclose(out[0], 0.25 * latents[0] + 0.25 * latents[1] + 0.5 * latents[2], atol=1e-6)


@pytest.mark.parametrize("t", [0.1, 0.5, 0.73])
def test_k2_slerp_is_the_textbook_formula(t):
    a, b = refs(2, seed=5) * torch.tensor([1.0, 1.7]).view(2, 1, 1, 1)  # unequal norms too
    out = blend_slerp([a[None], b[None]], [1 - t, t])
    assert torch.allclose(out, textbook_slerp(a, b, t), atol=1e-5)
    # the general K > 2 solver (Karcher mean on the Gram matrix) lands on the same point
    units = torch.stack([a.double().flatten() / a.norm(), b.double().flatten() / b.norm()])
    coeffs = spherical_mean_coefficients(units @ units.T, torch.tensor([1 - t, t], dtype=torch.float64))
    assert torch.allclose((coeffs @ torch.stack([a.flatten(), b.flatten()]).double()).float().reshape(1, *SHAPE),
                          textbook_slerp(a, b, t), atol=1e-5)
    # and one angle over the WHOLE latent: the result lies in the plane of a and b
    assert torch.allclose(out.flatten(), torch.linalg.lstsq(
        torch.stack([a.flatten(), b.flatten()], 1), out.flatten()[:, None]).solution.T[0] @ torch.stack(
        [a.flatten(), b.flatten()]), atol=1e-4)


def test_k3_slerp_is_the_weighted_spherical_mean():
    latents = refs(3, seed=6)
    latents = latents / latents.flatten(1).norm(dim=1).view(3, 1, 1, 1)  # equal norms: output dir = the mean
    weights = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    out = blend_slerp(latents, weights.tolist()).double().flatten()
    q = out / out.norm()
    units = latents.double().flatten(1) / latents.double().flatten(1).norm(dim=1, keepdim=True)
    # first-order optimality of the Karcher mean: the weighted sum of log maps at q vanishes
    cos = units @ q
    theta = torch.acos(cos)
    logs = (theta / torch.sin(theta))[:, None] * (units - cos[:, None] * q)
    assert float((weights @ logs).norm()) < 1e-6
    assert float(theta.max()) > 0.3  # the references are really apart: the check has teeth
    lin = blend_linear(latents, weights.tolist()).double().flatten()
    q_lin = lin / lin.norm()
    cos_l = units @ q_lin
    theta_l = torch.acos(cos_l)
    logs_l = (theta_l / torch.sin(theta_l))[:, None] * (units - cos_l[:, None] * q_lin)
    assert float((weights @ logs_l).norm()) > 1e-4  # the linear mean's direction is not the spherical mean
    # a zero weight drops the reference: K = 3 with w3 = 0 is the K = 2 SLERP
    assert torch.allclose(blend_slerp(latents, [0.4, 0.6, 0.0]), textbook_slerp(latents[0], latents[1], 0.6),
                          atol=1e-5)


@pytest.mark.parametrize("k", [2, 3])
def test_identical_and_parallel_inputs_give_the_input_back_without_nan(k):
    latent = refs(1, seed=7)
    out = blend_slerp(latent.repeat(k, 1, 1, 1), [1.0] * k)
    assert torch.isfinite(out).all() and torch.allclose(out, latent, atol=1e-6)
    # nearly parallel (same direction, other scale) falls back to the linear blend
    scaled = torch.cat([latent * (1 + i) for i in range(k)])
    assert torch.allclose(blend_slerp(scaled, [1.0] * k), blend_linear(scaled, [1.0] * k), atol=1e-5)


def test_keep_norm_restores_the_weighted_mean_norm():
    latents = torch.randn(2, 4, 64, 64, generator=torch.Generator().manual_seed(8))  # unrelated, equal norm
    mean_norm = float(latents.flatten(1).norm(dim=1).mean())
    ratio = float(blend_linear(latents, [1, 1]).norm()) / mean_norm
    assert 0.69 < ratio < 0.73  # the washed-out 0.71x of a plain linear blend
    assert float(blend_linear(latents, [1, 1], keep_norm=True).norm()) == pytest.approx(mean_norm, rel=1e-5)
    assert float(blend_slerp(latents, [1, 1]).norm()) == pytest.approx(mean_norm, rel=1e-2)  # SLERP keeps it
    uneven = latents * torch.tensor([1.0, 3.0]).view(2, 1, 1, 1)
    target = 0.25 * float(uneven[0].norm()) + 0.75 * float(uneven[1].norm())
    for blend in (blend_linear, blend_slerp):
        assert float(blend(uneven, [1, 3], keep_norm=True).norm()) == pytest.approx(target, rel=1e-5)


def test_list_of_single_latents_equals_one_batch_and_dtype_is_kept():
    latents = refs(3, seed=9).half()
    out = blend_slerp([latents[i:i + 1] for i in range(3)], [1, 2, 3])
    assert out.dtype == torch.float16
    assert torch.equal(out, blend_slerp(latents, [1, 2, 3]))


@pytest.mark.parametrize("weights,match", [
    ([1.0], r"weights: 1 weight\(s\) given for 2 reference"),
    ([0.0, 0.0], "weights: the weights sum to zero"),
    ([1.0, -0.5], "weights: negative weights are not allowed"),
    ([1.0, float("nan")], "weights: NaN or infinite"),
    ([float("inf"), 1.0], "weights: NaN or infinite"),
])
@pytest.mark.parametrize("blend", [blend_linear, blend_slerp])
def test_bad_weights_are_named(blend, weights, match):
    with pytest.raises(ValueError, match=match):
        blend(refs(2), weights)


def test_bad_latents_are_named():
    with pytest.raises(ValueError, match=r"latent_2: latent shape \(4, 8, 8\) \(C, H, W\) differs from latent_1's"):
        stack_references([torch.zeros(1, 4, 8, 6), torch.zeros(1, 4, 8, 8)], names=["latent_1", "latent_2"])
    with pytest.raises(ValueError, match="opposite references"):
        blend_slerp(torch.stack([refs(1)[0], -refs(1)[0]]), [1, 1])
    with pytest.raises(ValueError, match="all zeros"):
        blend_slerp(torch.stack([refs(1)[0], torch.zeros(SHAPE)]), [1, 1])
    assert torch.isfinite(blend_linear(torch.stack([refs(1)[0], torch.zeros(SHAPE)]), [1, 1])).all()
