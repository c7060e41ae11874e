"""Deterministic (DDIM) inversion in the host's sigma space, and the matching Euler generation.

The host's model returns the denoised estimate D(x, sigma) for a sampler-space x (k-diffusion
convention, x = x0 + sigma * eps for eps models). The probability-flow ODE is

    dx/dsigma = d(x, sigma) = (x - D(x, sigma)) / sigma

for eps, v-prediction and EDM models alike, and for flow models in the host's sigma too, because
the host converts every parameterisation to D. Generation integrates it downwards; inversion
integrates it upwards.

Inversion step from sigma to sigma_next > sigma (h = sigma_next - sigma), explicit Euler:

    x_next = x + h * d(x, sigma)

which is DDIM inversion written in sigma space (DDIM is Euler in x / sqrt(alpha_bar) and sigma).
The first step starts from the clean latent at sigma 0, where d is 0/0 and the model was never
trained; like DDIM inversion, it asks the model at the smallest nonzero sigma instead:
x_1 = x_0 + sigma_1 * d(x_0, sigma_1). (The original implementations take the noise prediction at
the *next* timestep for every step; on the analytic Gaussian model that is about 4x less accurate
than the current-sigma slope used here, so only the first step does it, where it must.)

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


def inversion_step(denoise_fn, x, sigma, sigma_next, iterations=1):
    """x at sigma -> x at sigma_next (> sigma) with `iterations` model calls (see module doc)."""
    h = sigma_next - sigma
    sigma_eval = sigma if float(sigma) > 0 else sigma_next  # d(x, 0) is undefined: DDIM's first step
    x_next = x + h * to_d(x, sigma_eval, denoise_fn(x, sigma_eval))
    for _ in range(iterations - 1):
        x_next = x + h * to_d(x_next, sigma_next, denoise_fn(x_next, sigma_next))
    return x_next


def euler_step(denoise_fn, x, sigma, sigma_next):
    """One Euler generation step from sigma down to sigma_next (k-diffusion's `sample_euler`)."""
    return x + (sigma_next - sigma) * to_d(x, sigma, denoise_fn(x, sigma))


def invert(denoise_fn, x0, sigmas, callback=None, iterations=1, metadata=None):
    """Invert clean latents `x0` (K, C, H, W) along ascending `sigmas` (sigmas[0] == 0).

    Returns a Trajectory holding every visited latent (the clean one first). `callback` gets a
    dict {i, sigma, sigma_next, x} after every step. `iterations` model calls per step: 1 is DDIM
    inversion, more refine the step so that Euler generation with the same schedule inverts it.
    """
    sigmas = check_sigmas(sigmas, ascending=True)
    if iterations < 1:
        raise ValueError(f"iterations: need at least 1 model call per step, got {iterations}")
    if x0.ndim != 4:
        raise ValueError(f"latent: expected (refs, C, H, W), got shape {tuple(x0.shape)}")
    x = x0
    latents = [x0]
    for i in range(len(sigmas) - 1):
        x = inversion_step(denoise_fn, x, sigmas[i], sigmas[i + 1], iterations)
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
