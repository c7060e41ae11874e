"""Checks of what enters the method, with messages that name the input and say what to change."""

import math

import torch


def require_finite_number(value, name):
    """A float that is not NaN or infinite (the host's JSON API lets NaN through a FLOAT widget)."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


def require_finite(tensor, name, bound=None):
    """A floating tensor with no NaN or inf, and, when `bound` is given, no value beyond +-bound
    (finite but huge values overflow to NaN a few operations later)."""
    if not torch.is_floating_point(tensor):
        raise ValueError(f"{name}: expected floating-point values, got {tensor.dtype}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name}: contains NaN or infinite values; check what produced it")
    if bound is not None and tensor.numel() and float(tensor.abs().max()) > bound:
        raise ValueError(f"{name}: values up to {float(tensor.abs().max()):.3g}, far beyond any latent or image "
                         f"(at most {bound:g}); check what produced it")
    return tensor


ECHO_LIMIT = 60  # characters of a user's text an error message repeats


def echoed(text, limit=ECHO_LIMIT):
    """`text` as an error message repeats it: whole when short, else its start and its length, so a pasted
    megabyte does not become a megabyte of message (and of node note, and of log)."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"
