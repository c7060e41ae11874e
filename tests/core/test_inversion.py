"""Inversion math on an analytic model whose exact denoiser is known.

Data x0 ~ N(mu, s^2 I): the exact denoiser is D(x, sigma) = mu + s^2 / (s^2 + sigma^2) (x - mu), and
the probability-flow ODE has the closed-form solution x(sigma) - mu = (x0 - mu) sqrt(s^2 + sigma^2) / s.
"""

import math

import pytest
import torch
from style_aligned.core.reference.inversion import euler_generate, inversion_step, invert

MU, S = 0.3, 0.5
SIGMA_MIN, SIGMA_MAX = 0.0292, 14.6146  # the SD1.5 range


def gaussian_denoiser(x, sigma):
    return MU + S**2 / (S**2 + sigma**2) * (x - MU)


def karras(steps, dtype=torch.float64, rho=7.0):
    """Descending Karras schedule ending with 0, as the host builds it."""
    ramp = torch.linspace(0, 1, steps, dtype=dtype)
    lo, hi = SIGMA_MIN ** (1 / rho), SIGMA_MAX ** (1 / rho)
    return torch.cat([(hi + ramp * (lo - hi)) ** rho, torch.zeros(1, dtype=dtype)])


def clean_sample(dtype=torch.float64, refs=2):
    gen = torch.Generator().manual_seed(0)
    return (MU + S * torch.randn(refs, 4, 8, 8, generator=gen)).to(dtype)


def round_trip_error(steps, iterations=1, dtype=torch.float64):
    x0 = clean_sample(dtype)
    descending = karras(steps, dtype)
    trajectory = invert(gaussian_denoiser, x0, descending.flip(0), iterations=iterations)
    x_rec = euler_generate(gaussian_denoiser, trajectory.latents[-1], descending)
    return float((x_rec - x0).abs().max() / (x0 - MU).abs().max()), trajectory


def test_ddim_inversion_round_trip_error_shrinks_with_steps():
    errors = [round_trip_error(steps)[0] for steps in (10, 20, 50, 100)]
    print("DDIM round-trip relative error at 10/20/50/100 steps:", errors)
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[2] < 0.1 and errors[3] < 0.6 * errors[2]  # first order: roughly halves as steps double


def test_ddim_inversion_reaches_the_exact_ode_solution():
    x0 = clean_sample()
    exact_end = MU + (x0 - MU) * math.sqrt(S**2 + SIGMA_MAX**2) / S
    errs = []
    for steps in (10, 20, 50):
        trajectory = invert(gaussian_denoiser, x0, karras(steps).flip(0))
        errs.append(float((trajectory.latents[-1] - exact_end).abs().max() / (exact_end - MU).abs().max()))
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.05, errs
    print("DDIM end-point relative error vs exact ODE at 10/20/50 steps:", errs)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_fixed_point_inversion_reconstructs_to_float_tolerance(dtype, tol):
    err, trajectory = round_trip_error(20, iterations=60, dtype=dtype)
    assert err < tol, err
    assert trajectory.latents.dtype == dtype
    # the same round trip with plain DDIM inversion is far from exact
    assert round_trip_error(20)[0] > 1e3 * tol


def test_first_step_uses_the_smallest_nonzero_sigma():
    # From the clean latent (sigma 0, slope undefined) DDIM asks the model at the next sigma.
    x0 = clean_sample()
    calls = []

    def recording(x, sigma):
        calls.append(float(sigma))
        return gaussian_denoiser(x, sigma)

    sigmas = karras(5).flip(0)
    trajectory = invert(recording, x0, sigmas)
    # one call per step at the current sigma, except the first: at sigma_1, never at sigma 0
    assert calls == pytest.approx([float(sigmas[1])] + sigmas[1:-1].tolist())
    s1 = float(sigmas[1])
    expected = x0 + s1 * (x0 - gaussian_denoiser(x0, s1)) / s1
    assert torch.allclose(trajectory.latents[1], expected)
    assert torch.equal(trajectory.latents[0], x0)


def test_inversion_step_is_the_inverse_of_the_euler_step_when_solved():
    x = clean_sample()
    from style_aligned.core.reference.inversion import euler_step

    up = inversion_step(gaussian_denoiser, x, torch.tensor(0.5), torch.tensor(0.8), iterations=80)
    assert torch.allclose(euler_step(gaussian_denoiser, up, torch.tensor(0.8), torch.tensor(0.5)), x, atol=1e-12)


def test_trajectory_shapes_sigmas_and_callback():
    x0 = clean_sample(refs=3)
    seen = []
    sigmas = karras(7).flip(0)
    trajectory = invert(gaussian_denoiser, x0, sigmas, callback=lambda info: seen.append(info["i"]),
                        metadata={"model_family": "Gaussian"})
    assert trajectory.latents.shape == (8, 3, 4, 8, 8)
    assert torch.equal(trajectory.sigmas, sigmas)
    assert seen == list(range(7))
    assert trajectory.metadata["model_family"] == "Gaussian"
    assert trajectory.metadata["ref_count"] == "3" and trajectory.metadata["iterations"] == "1"


def test_bad_schedules_are_rejected_with_the_input_named():
    x0 = clean_sample()
    with pytest.raises(ValueError, match="sigmas: inversion needs strictly increasing"):
        invert(gaussian_denoiser, x0, karras(5))
    with pytest.raises(ValueError, match="sigmas: inversion starts from the clean latent"):
        invert(gaussian_denoiser, x0, karras(5).flip(0)[1:])
    with pytest.raises(ValueError, match="iterations"):
        invert(gaussian_denoiser, x0, karras(5).flip(0), iterations=0)
    with pytest.raises(ValueError, match="sigmas: generation needs strictly decreasing"):
        euler_generate(gaussian_denoiser, x0, karras(5).flip(0))
