"""Deterministic (DDIM) inversion in the host's sigma space, and the matching Euler generation.

The host's model returns the denoised estimate D(x, sigma) for a sampler-space x (k-diffusion
convention, x = x0 + sigma * eps for eps models). The probability-flow ODE is

    dx/dsigma = d(x, sigma) = (x - D(x, sigma)) / sigma

for eps, v-prediction and EDM models alike, and for flow models in the host's sigma too, because
the host converts every parameterisation to D. Generation integrates it downwards; inversion
integrates it upwards.

Inversion step from sigma to sigma_next > sigma (h = sigma_next - sigma), as DDIM inversion does it
(`_ddim_loop` of the original): the model is asked at the NEXT sigma, given the same network input
it would get at the current one,

    x_eval = x * c_in(sigma) / c_in(sigma_next),   x_next = x + h * d(x_eval, sigma_next)

where c_in is the host's input scaling (`model_sampling.calculate_input`): 1 / sqrt(1 + sigma^2) for
eps and v-prediction models, whose network sees the VP latent, so x_eval is the current VP latent
read at the next sigma; 1 for flow models, whose network sees x itself. In the VP case this is
exactly DDIM inversion rewritten in sigma space (x_next = pred_x0 + sigma_next * eps with
pred_x0 = x - sigma * eps). On the analytic Gaussian model (tests/core/test_inversion.py) it halves
the round-trip error of the plain Euler slope at the current sigma, for eps and flow models alike.
The first step starts from the clean latent at sigma 0, where the slope is undefined; the rule asks
at sigma_1 there too.

Optionally the step is refined so that the Euler generation step from sigma_next lands back on x:

    x_next = x + h * d(x_next, sigma_next)                                  (*)

solved by fixed-point iteration started from the explicit step. Then `euler_generate` with the same
schedule returns the input to float tolerance. `iterations` counts model calls per step:
1 is the paper's DDIM inversion, each further call is one fixed-point refinement of (*).

Pure torch: `denoise_fn(x, sigma)` is any callable returning D; sigma is a 0-d tensor.
"""

import torch

from .trajectory import Trajectory


def to_d(x, sigma, denoised):
    """The ODE slope dx/dsigma, as k-diffusion's `to_d`."""
    return (x - denoised) / sigma


def check_sigmas(sigmas, ascending):
    sigmas = torch.as_tensor(sigmas)
    if sigmas.ndim != 1 or sigmas.shape[0] < 2:
        raise ValueError(f"sigmas: need a 1-D schedule of at least 2 values, got shape {tuple(sigmas.shape)}")
    steps = sigmas[1:] - sigmas[:-1]
    if ascending and not bool((steps > 0).all()):
        raise ValueError("sigmas: inversion needs strictly increasing sigmas")
    if not ascending and not bool((steps < 0).all()):
        raise ValueError("sigmas: generation needs strictly decreasing sigmas")
    if ascending and float(sigmas[0]) != 0.0:
        raise ValueError(f"sigmas: inversion starts from the clean latent, sigma 0; got {float(sigmas[0])}")
    return sigmas


def inversion_step(denoise_fn, x, sigma, sigma_next, iterations=1, input_scale=None):
    """x at sigma -> x at sigma_next (> sigma) with `iterations` model calls (see module doc).
    input_scale(sigma): the model's c_in; None means 1 (a flow model)."""
    h = sigma_next - sigma
    x_eval = x if input_scale is None else x * (input_scale(sigma) / input_scale(sigma_next))
    x_next = x + h * to_d(x_eval, sigma_next, denoise_fn(x_eval, sigma_next))
    for _ in range(iterations - 1):
        x_next = x + h * to_d(x_next, sigma_next, denoise_fn(x_next, sigma_next))
    return x_next


def euler_step(denoise_fn, x, sigma, sigma_next):
    """One Euler generation step from sigma down to sigma_next (k-diffusion's `sample_euler`)."""
    return x + (sigma_next - sigma) * to_d(x, sigma, denoise_fn(x, sigma))


def invert(denoise_fn, x0, sigmas, callback=None, iterations=1, metadata=None, input_scale=None):
    """Invert clean latents `x0` (K, C, H, W) or clips (K, C, T, H, W) along ascending `sigmas` (sigmas[0] == 0).

    Returns a Trajectory holding every visited latent (the clean one first). `callback` gets a
    dict {i, sigma, sigma_next, x} after every step. `iterations` model calls per step: 1 is DDIM
    inversion, more refine the step so that Euler generation with the same schedule inverts it.
    `input_scale`: the model's c_in (see module doc).
    """
    sigmas = check_sigmas(sigmas, ascending=True)
    if iterations < 1:
        raise ValueError(f"iterations: need at least 1 model call per step, got {iterations}")
    if x0.ndim not in (4, 5):
        raise ValueError(f"latent: expected (refs, C, H, W) or clips (refs, C, frames, H, W), got shape "
                         f"{tuple(x0.shape)}")
    x = x0
    latents = [x0]
    for i in range(len(sigmas) - 1):
        x = inversion_step(denoise_fn, x, sigmas[i], sigmas[i + 1], iterations, input_scale)
        latents.append(x)
        if callback is not None:
            callback({"i": i, "sigma": sigmas[i], "sigma_next": sigmas[i + 1], "x": x})
    metadata = dict(metadata or {})
    metadata.setdefault("iterations", str(iterations))
    return Trajectory(sigmas, torch.stack(latents), metadata)


def euler_generate(denoise_fn, x, sigmas, callback=None):
    """Euler generation along descending `sigmas` (ending at 0 returns the clean estimate)."""
    sigmas = check_sigmas(sigmas, ascending=False)
    for i in range(len(sigmas) - 1):
        x = euler_step(denoise_fn, x, sigmas[i], sigmas[i + 1])
        if callback is not None:
            callback({"i": i, "sigma": sigmas[i], "sigma_next": sigmas[i + 1], "x": x})
    return x
