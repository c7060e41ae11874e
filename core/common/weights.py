"""Per-reference weights as users type them ('0.7, 0.3'), checked and renormalised."""

import math

import torch

from .validation import echoed


def parse_weights(text, name="weights"):
    """'0.7, 0.3' -> [0.7, 0.3]; empty or blank -> None (equal weights)."""
    if text is None or not str(text).strip():
        return None
    values = []
    for part in str(text).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"{name}: '{echoed(part)}' is not a number; write numbers separated by commas, "
                             "e.g. '0.7, 0.3', or leave it empty for equal weights") from None
        if math.isinf(value) and "inf" not in part.lower():  # digits beyond a float's range ('1e400')
            raise ValueError(f"{name}: '{echoed(part)}' is too large to be a number here (it reads as infinite); "
                             "weights are relative, so write small numbers such as '0.7, 0.3' (or '7, 3')")
        values.append(value)
    return values or None


def normalise_weights(weights, count, name="weights"):
    """Weights for `count` references as float64 (count,) summing to 1; None means equal weights."""
    if count < 1:
        raise ValueError(f"{name}: there are no references to weight; give at least one reference")
    if weights is None:
        return torch.full((count,), 1.0 / count, dtype=torch.float64)
    w = torch.as_tensor(weights, dtype=torch.float64).flatten()
    if w.numel() != count:
        raise ValueError(f"{name}: {w.numel()} weight(s) given for {count} reference(s); "
                         "give one weight per reference, or leave it empty for equal weights")
    if not torch.isfinite(w).all():
        raise ValueError(f"{name}: NaN or infinite values are not allowed; use finite numbers such as 0.7, 0.3")
    if (w < 0).any():
        raise ValueError(f"{name}: negative weights are not allowed; use values >= 0")
    if not (w > 0).any():
        raise ValueError(f"{name}: the weights sum to zero; give at least one positive weight")
    # weights are relative: scaled by the largest first, '1e308, 1e308' is 0.5, 0.5 instead of overflowing
    # the sum (or '1e-320, 1e-320' losing precision)
    w = w / w.max()
    return w / w.sum()
