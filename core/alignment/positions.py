"""Where the reference's keys sit in a rotary-position (RoPE) model ("ShiftPE", AlignedGen 2025).

RoPE turns each channel pair (2i, 2i+1) of a query or key by `position * omega_i`; the pairs are
grouped by axis (Flux: time, row, column with `axes_dim` [16, 56, 56]) and each axis has its own
frequencies `omega = theta ** -(2j / dim)`. Turns add up, so moving an already rotated key by `d`
along one axis is one more turn by `d * omega` on that axis's pairs: no embedding is recomputed.
"""

import math

import torch

POSITION_MODES = ["shift", "none"]


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


def reference_key_turn(mode, axes_dim, theta, axis, distance):
    """The turn the reference keys get (None when they keep their positions)."""
    if mode not in POSITION_MODES:
        raise ValueError(f"reference_positions must be one of {POSITION_MODES}, got '{mode}'")
    if mode == "none" or not axes_dim or distance == 0:
        return None
    if not 0 <= axis < len(axes_dim) or not math.isfinite(distance):
        raise ValueError(f"cannot shift along axis {axis} of a {len(axes_dim)}-axis position embedding")
    return shift_angles(axes_dim, theta, axis, distance)
