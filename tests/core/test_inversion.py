"""Inversion math on analytic models whose exact denoiser is known.

Eps (VP) model, sampler space x = x0 + sigma * eps with data x0 ~ N(mu, s^2 I): the exact denoiser is
D(x, sigma) = mu + s^2 / (s^2 + sigma^2) (x - mu), and the probability-flow ODE has the closed-form
solution x(sigma) - mu = (x0 - mu) sqrt(s^2 + sigma^2) / s; the network's input scaling is
c_in = 1 / sqrt(1 + sigma^2). Flow model, x = (1 - sigma) x0 + sigma * eps: D(x, sigma) =
mu + (1 - sigma) s^2 / ((1 - sigma)^2 s^2 + sigma^2) (x - (1 - sigma) mu), and c_in = 1.
"""

import math

import pytest
import torch
from style_aligned.core.reference.inversion import euler_generate, inversion_step, invert

MU, S = 0.3, 0.5
SIGMA_MIN, SIGMA_MAX = 0.0292, 14.6146  # the SD1.5 range


def gaussian_denoiser(x, sigma):
    return MU + S**2 / (S**2 + sigma**2) * (x - MU)


def eps_input_scale(sigma):
    return 1.0 / math.sqrt(1.0 + float(sigma) ** 2)


def flow_denoiser(x, sigma):
    a = 1 - sigma
    return MU + a * S**2 / (a * a * S**2 + sigma**2) * (x - a * MU)


def sd15_normal(steps, dtype=torch.float64):
    """The host's "normal" schedule of SD1.5 (scaled-linear betas, sigma interpolated in log over the
    1000 training timesteps), descending, ending with 0."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=dtype) ** 2
    log_sigmas = ((1 - torch.cumprod(1 - betas, 0)) / torch.cumprod(1 - betas, 0)).sqrt().log()
    t = torch.linspace(999, 0, steps, dtype=dtype)
    low, high, w = t.floor().long(), t.ceil().long(), t - t.floor()
    return torch.cat([((1 - w) * log_sigmas[low] + w * log_sigmas[high]).exp(), torch.zeros(1, dtype=dtype)])


def flow_normal(steps, dtype=torch.float64):
    """Evenly spaced flow sigmas from 1 to 0 (shift 1), descending."""
    return torch.linspace(1, 0, steps + 1, dtype=dtype)


def current_sigma_inversion(denoise, x, sigmas):
    """The rule used before, for comparison: Euler with the slope at the current sigma (the next one
    only for the first step, where sigma is 0)."""
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        at = sigma if float(sigma) > 0 else sigma_next
        x = x + (sigma_next - sigma) * (x - denoise(x, at)) / at
    return x


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
    trajectory = invert(gaussian_denoiser, x0, descending.flip(0), iterations=iterations, input_scale=eps_input_scale)
    x_rec = euler_generate(gaussian_denoiser, trajectory.latents[-1], descending)
    return float((x_rec - x0).abs().max() / (x0 - MU).abs().max()), trajectory


def relative_error(x_rec, x0):
    return float((x_rec - x0).abs().max() / (x0 - MU).abs().max())


MODELS = {  # name: (denoiser, input scale, schedule)
    "eps": (gaussian_denoiser, eps_input_scale, sd15_normal),
    "flow": (flow_denoiser, None, flow_normal),
}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_ddim_rule_halves_the_round_trip_error_of_the_current_sigma_slope(kind):
    """Inversion then Euler generation on the same schedule: the model asked at the next sigma with
    the same network input (DDIM inversion) against the slope at the current sigma."""
    denoise, scale, schedule = MODELS[kind]
    x0 = clean_sample()
    ddim, before = [], []
    for steps in (10, 20, 50, 100):
        descending = schedule(steps)
        top = invert(denoise, x0, descending.flip(0), input_scale=scale).latents[-1]
        ddim.append(relative_error(euler_generate(denoise, top, descending), x0))
        top = current_sigma_inversion(denoise, x0, descending.flip(0))
        before.append(relative_error(euler_generate(denoise, top, descending), x0))
    print(f"{kind}: round-trip relative error at 10/20/50/100 steps, DDIM rule {ddim}, current-sigma slope {before}")
    assert all(a < 0.6 * b for a, b in zip(ddim, before, strict=True)), (ddim, before)
    assert ddim[2] < (0.05 if kind == "eps" else 0.025)


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
        trajectory = invert(gaussian_denoiser, x0, karras(steps).flip(0), input_scale=eps_input_scale)
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


def test_every_step_asks_the_model_at_the_next_sigma_with_the_same_network_input():
    # DDIM inversion evaluates eps at the next timestep from the current VP latent: in sampler space,
    # at x * c_in(sigma) / c_in(sigma_next) and sigma_next; never at sigma 0.
    x0 = clean_sample()
    calls = []

    def recording(x, sigma):
        calls.append((float(sigma), x))
        return gaussian_denoiser(x, sigma)

    sigmas = karras(5).flip(0)
    trajectory = invert(recording, x0, sigmas, input_scale=eps_input_scale)
    assert [sigma for sigma, _ in calls] == pytest.approx(sigmas[1:].tolist())
    s1 = float(sigmas[1])
    assert torch.allclose(calls[0][1], x0 * math.sqrt(1 + s1**2))  # c_in(0) = 1
    x_eval = x0 * math.sqrt(1 + s1**2)
    assert torch.allclose(trajectory.latents[1], x0 + s1 * (x_eval - gaussian_denoiser(x_eval, s1)) / s1)
    s2 = float(sigmas[2])
    assert torch.allclose(calls[1][1], trajectory.latents[1] * math.sqrt((1 + s2**2) / (1 + s1**2)))
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
