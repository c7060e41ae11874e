"""Where the reference's keys sit in a rotary-position (RoPE) model ("ShiftPE", AlignedGen 2025).

RoPE turns each channel pair (2i, 2i+1) of a query or key by `position * omega_i`; the pairs are
grouped by axis (Flux: time, row, column with `axes_dim` [16, 56, 56]) and each axis has its own
frequencies `omega = theta ** -(2j / dim)`. Turns add up, so moving an already rotated key by `d`
along one axis is one more turn by `d * omega` on that axis's pairs: no embedding is recomputed.
"""

import math

import torch

POSITION_MODES = ["shift", "none", "untwist"]


def axis_frequencies(dim, theta):
    """The RoPE frequencies of one axis of `dim` channels (dim / 2 pairs), as the host computes them."""
    return [theta ** -(2 * j / dim) for j in range(dim // 2)]


def shift_angles(axes_dim, theta, axis, distance):
    """Per channel pair, the extra turn that moves a key `distance` positions along `axis` (others: 0)."""
    angles = []
    for index, dim in enumerate(axes_dim):
        frequencies = axis_frequencies(dim, theta)
        angles += [distance * omega if index == axis else 0.0 for omega in frequencies]
    return torch.tensor(angles, dtype=torch.float64)


def rotate_pairs(x, angles):
    """Turn every channel pair (x[..., 2i], x[..., 2i+1]) of x (..., 2P) by angles[i] (P,), the RoPE
    convention: (a, b) -> (a cos - b sin, a sin + b cos)."""
    cos, sin = (f(angles).to(device=x.device, dtype=x.dtype) for f in (torch.cos, torch.sin))
    pairs = x.unflatten(-1, (-1, 2))
    a, b = pairs[..., 0], pairs[..., 1]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)


def rotate_by(x, rotations, inverse=False):
    """Turn every channel pair of x (..., L, 2P) by the 2x2 rotation matrices (..., L, P, 2, 2) a host built for
    its tokens (Flux's `pe`: pair p of token l becomes rotations[l, p] @ pair); inverse=True turns it back
    (a rotation's inverse is its transpose). Broadcasts over the leading axes."""
    if inverse:
        rotations = rotations.transpose(-1, -2)
    pairs = x.unflatten(-1, (-1, 2)).to(rotations.dtype)
    out = rotations[..., 0] * pairs[..., :1] + rotations[..., 1] * pairs[..., 1:]
    return out.flatten(-2).to(x.dtype)


def untwist_gains(axes_dim, high, low, beta=2.0):
    """"Untwisting RoPE" (Mikaeili et al. 2026): a gain per channel pair for the reference keys, s_d = high +
    (low - high) * d~^beta with d~ = d / (n - 1) the pair's place among the n pairs of its axis, from its highest
    frequency (d = 0, gain `high`, below 1: the bands that tie attention to the same position, whose dominance
    copies the reference's layout) to its lowest (gain `low`, above 1: the bands that carry what is alike
    wherever it is). Per axis, as each axis of a multi-axis RoPE runs its own frequencies from high to low.
    Returns (2P,) gains, one per channel (both channels of a pair share it)."""
    gains = []
    for dim in axes_dim:
        pairs = dim // 2
        gains += [high + (low - high) * (d / (pairs - 1) if pairs > 1 else 0.0) ** beta for d in range(pairs)]
    return torch.tensor(gains, dtype=torch.float64).repeat_interleave(2)


def untwist_schedule(high, low, progress):
    """The untwist gains at `progress` (0 at the first, noisiest step, 1 at the last): both rise linearly over
    the schedule, as the paper does (layout first, then sharper attention on the reference). The page gives no
    numbers: the high-frequency gain rises from a third of `high` to `high`, the low-frequency one from 1 to
    `low` (with the defaults 0.75 and 1.4 these are the 0.25 -> 0.75 and 1.0 -> 1.4 a public port uses)."""
    return high * (1 + 2 * progress) / 3, 1 + (low - 1) * progress


def reference_key_turn(mode, axes_dim, theta, axis, distance):
    """The turn the reference keys get (None when they keep their positions: modes none and untwist)."""
    if mode not in POSITION_MODES:
        raise ValueError(f"reference_positions must be one of {POSITION_MODES}, got '{mode}'")
    if mode != "shift" or not axes_dim or distance == 0:
        return None
    if not 0 <= axis < len(axes_dim) or not math.isfinite(distance):
        raise ValueError(f"cannot shift along axis {axis} of a {len(axes_dim)}-axis position embedding")
    return shift_angles(axes_dim, theta, axis, distance)
