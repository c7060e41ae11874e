"""The hooks every model family shares: the active range, the call state the model wrapper shares
with the attention hooks, and the model wrapper (reference trajectory, ControlNet rows). The
family-specific hooks live in families/. Host glue; the method lives in core/.
"""

import contextlib
from dataclasses import dataclass

from ..core.alignment.attention import SharingOptions
from ..core.alignment.reference_rows import replace_reference_rows, zero_reference_rows


class SigmaRange:
    """The active part of the schedule: start/end percent turned into sigmas (start >= end)."""

    def __init__(self, model_sampling, start_percent, end_percent):
        self.high = float(model_sampling.percent_to_sigma(start_percent))
        self.low = float(model_sampling.percent_to_sigma(end_percent))

    def contains(self, sigmas):
        if sigmas is None:
            return True
        sigma = float(sigmas.max())
        return self.low * (1 - 1e-5) <= sigma <= self.high * (1 + 1e-5)


class CallState:
    """What the model wrapper learns once per model call, for the attention and GroupNorm patches:
    the chunk count, the latent width (DiTs shift the reference keys by it) and whether sharing is
    active at this sigma (one host sync per call, not one per layer). On DiTs the block markers add
    which block runs and how its joint sequence is laid out.

    Shared by reference between the wrapper (in model_options, which clone() deep-copies) and
    the patches, so deep copies return the same object.
    """

    def __init__(self, sigma_range):
        self.sigma_range = sigma_range
        self.chunks = 1
        self.width = None
        self.active = True
        self.inside = False  # during a model call that went through our wrapper
        self.block = None  # DiT: the block running now
        self.joint = None  # DiT: (text, image) token counts of the joint sequence

    def __deepcopy__(self, memo):
        return self

    @contextlib.contextmanager
    def model_call(self, chunks, timestep, width=None):
        """Around one model call: the chunk count, the latent width, and the active range decided once
        for all layers."""
        self.chunks, self.active, self.inside = chunks, self.sigma_range.contains(timestep), True
        self.width = width
        try:
            yield
        finally:
            self.inside = False

    def active_for(self, extra_options):
        """Active for this attention call: the wrapper's answer inside a model call through it (the
        host hands the layers a copy of the sigma tensor, so no identity to compare), else decided
        here (a wrapper registered later that does not chain ours)."""
        if self.inside:
            return self.active
        return self.sigma_range.contains(extra_options.get("sigmas"))


@dataclass
class Sharing:
    """What every attention hook of one patch needs: the method's knobs, the call state, the K
    references and their weights, and where the reference keys sit (DiTs with RoPE)."""

    opts: SharingOptions
    state: CallState
    refs: int = 1
    weights: list = None
    positions: str = "shift"


class StyleAlignedWrapper:
    """Model wrapper around every model call.

    - records the chunk count, latent width and active range for the attention and GroupNorm hooks;
    - with an inverted reference, sets rows 0..K-1 of every chunk to the trajectory at this sigma
      (here, keyed by sigma, not in the sampler callback that runs one step late) and returns the
      clean reference as their denoised output, so the reference rows end as the reference;
    - zeroes the ControlNet residual of the reference rows when the chunk has targets, as the
      original does: control shapes the targets, not the style source.
    """

    def __init__(self, state, previous=None, reference=None, refs=1, hold_sigma=None):
        self.state = state
        self.previous = previous
        self.reference = reference
        self.refs = refs
        self.hold_sigma = hold_sigma  # the reference row stays there while the targets are noisier

    def __call__(self, apply_model, args):
        chunks = len(args.get("cond_or_uncond") or [0])
        x, sigma = args["input"], args["timestep"]
        with self.state.model_call(chunks, sigma, x.shape[-1]):
            c = dict(args["c"])
            if c.get("control") is not None and x.shape[0] // chunks > self.refs:
                c["control"] = _without_reference_control(c["control"], chunks, self.refs)
            if self.reference is not None:
                at = sigma if self.hold_sigma is None else sigma.clamp(max=self.hold_sigma)
                x = replace_reference_rows(x, _with_frames(self.reference.latent_at(at), x), chunks)
            args = {**args, "input": x, "c": c}
            if self.previous is not None:
                out = self.previous(apply_model, args)
            else:
                out = apply_model(x, sigma, **c)
        if self.reference is not None:
            out = replace_reference_rows(out, _with_frames(self.reference.clean, out), chunks)
        return out


def _with_frames(reference, x):
    """Reference latents (K, C, H, W) as one-frame rows (K, C, 1, H, W) where the model's are (Qwen-Image)."""
    return reference.unsqueeze(2) if x.ndim == reference.ndim + 1 else reference


def _without_reference_control(control, chunks, refs):
    """ControlNet residuals ({"input": [...], "middle": [...], "output": [...]}) minus the reference rows."""
    return {key: [None if r is None else zero_reference_rows(r, chunks, refs) for r in residuals]
            for key, residuals in control.items()}
