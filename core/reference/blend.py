"""Z-SAMB blends of K reference latents into one (then inverted as a single reference).

Linear: sum_i w_i L_i. SLERP: weighted spherical interpolation with ONE angle over the whole
flattened latent of each reference (not per row of the last axis, the public Z-SAMB defect).

For K = 2 SLERP is the textbook formula on the raw latents,

    slerp(a, b; t) = sin((1 - t) W) / sin W * a + sin(t W) / sin W * b,  cos W = <a, b> / (|a| |b|)

For K > 2 it is the weighted spherical (Karcher) mean of the directions u_i = L_i / |L_i|, which is
symmetric in the order of the references by construction (chained pairwise SLERP is not). The mean
q lies in the span of the u_i, so it is computed entirely on the K x K Gram matrix of the u_i, as
coefficients c with q = sum_i c_i u_i; the output is sum_i c_i L_i. For K = 2 this is the same
point as the textbook formula, which is how both are tied together (and tested).

All math in float64; the result is returned in the input dtype with shape (1, C, H, W).
"""

import math

import torch

from ..common.validation import require_finite
from ..common.weights import normalise_weights

# Below this angle (radians) two directions count as parallel and SLERP falls back to linear,
# which is its limit there; it also keeps identical inputs free of 0/0.
PARALLEL_ANGLE = 1e-4


def stack_references(latents, names=None):
    """A (K, C, H, W) batch from a (K, C, H, W) tensor or a sequence of (B_i, C, H, W) tensors.

    Shapes must match apart from the batch; the error names the differing input (`names`).
    """
    if isinstance(latents, torch.Tensor):
        latents = [latents]
    latents = list(latents)
    if not latents:
        raise ValueError("latents: no reference latents given")
    names = names or [f"reference {i + 1}" for i in range(len(latents))]
    parts = []
    for name, latent in zip(names, latents, strict=True):
        if latent.ndim == 3:
            latent = latent.unsqueeze(0)
        if latent.ndim != 4:
            raise ValueError(f"{name}: expected a (batch, C, H, W) latent, got shape {tuple(latent.shape)}")
        require_finite(latent, name)  # a NaN, even at weight 0, would make the whole blend NaN
        if parts and latent.shape[1:] != parts[0].shape[1:]:
            raise ValueError(f"{name}: latent shape {tuple(latent.shape[1:])} (C, H, W) differs from {names[0]}'s "
                             f"{tuple(parts[0].shape[1:])}; encode all references at the same size")
        parts.append(latent)
    return torch.cat(parts, dim=0)


def _flat(latents):
    return latents.reshape(latents.shape[0], -1).double()


def _finish(blended, flat, weights, keep_norm, like):
    """Optionally rescale to the weighted mean norm of the inputs; back to (1, C, H, W) in `like`'s dtype."""
    if keep_norm:
        target = float((weights * flat.norm(dim=1)).sum())
        norm = float(blended.norm())
        if norm > 0:
            blended = blended * (target / norm)
    return blended.reshape(1, *like.shape[1:]).to(like.dtype)


def blend_linear(latents, weights, keep_norm=False):
    """sum_i w_i L_i with renormalised weights. `keep_norm` restores the inputs' weighted mean norm."""
    latents = stack_references(latents)
    weights = normalise_weights(weights, latents.shape[0])
    flat = _flat(latents)
    return _finish(weights @ flat, flat, weights, keep_norm, latents)


def slerp_coefficients(cos_angle, t):
    """Textbook SLERP coefficients (of a, of b) for the angle with cosine `cos_angle` at t."""
    omega = math.acos(min(max(cos_angle, -1.0), 1.0))  # clamp: rounding can leave |cos| > 1
    if omega < PARALLEL_ANGLE:
        return 1.0 - t, t
    if math.pi - omega < PARALLEL_ANGLE:
        raise ValueError("latents: SLERP is undefined between opposite references; use the Linear method")
    return math.sin((1.0 - t) * omega) / math.sin(omega), math.sin(t * omega) / math.sin(omega)


def _sinc(x):
    return 1.0 if x < 1e-12 else math.sin(x) / x


def spherical_mean_coefficients(gram, weights, tol=1e-12, max_iter=200):
    """Coefficients c of the weighted Karcher mean q = sum_i c_i u_i of unit vectors with Gram matrix `gram`.

    Riemannian gradient descent with unit step (Buss & Fillmore 2001), written on coefficients:
    log_q(u_i) = theta_i / sin(theta_i) (u_i - cos(theta_i) q), exp_q(v) = cos|v| q + sin|v| / |v| v.
    """
    c = weights / math.sqrt(max(float(weights @ gram @ weights), 0.0))  # start: normalised linear mean
    for _ in range(max_iter):
        cos = (gram @ c).clamp(-1.0, 1.0)
        theta = torch.acos(cos)
        scale = weights * torch.where(theta < 1e-8, torch.ones_like(theta), theta / torch.sin(theta))
        v = scale - (scale * cos).sum() * c  # sum_i w_i log_q(u_i) as coefficients
        step = math.sqrt(max(float(v @ gram @ v), 0.0))
        if step < tol:
            return c
        c = math.cos(step) * c + _sinc(step) * v
        c = c / math.sqrt(float(c @ gram @ c))  # stay on the sphere despite rounding
    raise ValueError("latents: the references are too far apart for a spherical mean; use the Linear method")


def blend_slerp(latents, weights, keep_norm=False):
    """Weighted spherical interpolation of K latents, one angle over each whole latent.

    Zero-weight references are dropped first, so a weight of 1 on one reference returns it.
    """
    latents = stack_references(latents)
    weights = normalise_weights(weights, latents.shape[0])
    flat = _flat(latents)
    keep = weights > 0
    used, w = flat[keep], weights[keep]
    norms = used.norm(dim=1)
    if bool((norms == 0).any()):
        raise ValueError("latents: a reference is all zeros, SLERP needs a direction; use Linear or encode an image")
    units = used / norms[:, None]
    gram = (units @ units.T).clamp(-1.0, 1.0)
    if used.shape[0] == 1:
        coefficients = torch.ones(1, dtype=torch.float64)
    elif used.shape[0] == 2:
        coefficients = torch.tensor(slerp_coefficients(float(gram[0, 1]), float(w[1])), dtype=torch.float64)
    else:
        if float(gram.min()) < -1.0 + 1e-6:
            raise ValueError("latents: SLERP is undefined between opposite references; use the Linear method")
        coefficients = spherical_mean_coefficients(gram, w)
    # The coefficients were found on the unit directions; applied to the raw latents they give the
    # textbook SLERP of the raw latents for K = 2 and the same construction for K > 2.
    return _finish(coefficients @ used, flat, weights, keep_norm, latents)
