"""Small score charts rendered to an IMAGE tensor with matplotlib (Agg, no pyplot state)."""

import numpy as np
import torch


def _figure(size, dpi):
    """A Figure with its own Agg canvas: leaves the user's pyplot backend and figures alone."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise RuntimeError("the metric charts need matplotlib: pip install 'matplotlib>=3.7'") from exc
    figure = Figure(figsize=size, dpi=dpi, layout="constrained")
    return figure, FigureCanvasAgg(figure)


def score_bar_chart(values, title="", mean=None):
    """Per-item bars with a dashed line at the mean; returns a (1, H, W, 3) float tensor in 0..1.

    `mean` defaults to the mean of `values` (pass the metric's own score when it is not that,
    e.g. set consistency, whose per-image values average to the same number anyway).
    """
    values = np.asarray(torch.as_tensor(values, dtype=torch.float64).cpu(), dtype=float).ravel()
    labels = [str(i + 1) for i in range(len(values))]
    mean = float(values.mean()) if mean is None else float(mean)

    # wider for long batches (up to 12 in), values written on the bars while they stay legible
    figure, canvas = _figure((min(12.0, max(5.0, 0.3 * len(values))), 3.0), dpi=100)
    axes = figure.add_subplot()
    bars = axes.bar(range(len(values)), values, color="#4c72b0", tick_label=labels)
    if len(values) <= 16:
        axes.bar_label(bars, fmt="%.3f", fontsize=7)
    axes.axhline(mean, color="#dd8452", linestyle="--", label=f"mean {mean:.3f}")
    low, high = min(0.0, values.min(), mean), max(0.0, values.max(), mean)
    pad = 0.12 * (high - low or 1.0)  # room for the value labels
    axes.set_ylim(low - (pad if low < 0 else 0), high + pad)
    axes.set_title(title, fontsize=10)
    axes.set_ylabel("cosine similarity", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: never over a bar
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return torch.from_numpy(rgba[..., :3].astype(np.float32) / 255.0).unsqueeze(0)
