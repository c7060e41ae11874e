"""What every model family shares: the patch's settings (one frozen value), the state of one model call
(made by the model wrapper and passed down to the attention hooks in that call's transformer_options), and
the model wrapper itself (reference trajectory, ControlNet rows). Family-specific hooks live in families/.
Host glue; the method lives in core/.

Nothing here is shared and written: the settings never change after the node ran, and each model call gets
its own `Call`, so conditioning batches sampled in threads (the host's multi-GPU path) cannot see each
other's state. GroupNorm has no transformer_options to carry the call; it reads the call from a context
variable, which is per thread as well.
"""

import contextlib
import contextvars
import dataclasses
import functools
import logging
from dataclasses import dataclass, field

from ..core.alignment.attention import SharingOptions
from ..core.alignment.reference_rows import replace_reference_rows, zero_reference_rows

CALL = "style_aligned_call"  # the key of the call's state in transformer_options
STRENGTH_MODES = ("fixed", "decrease")  # the reference keys' factor over the schedule (Settings.for_call)
log = logging.getLogger("style_aligned")
_current_call = contextvars.ContextVar("style_aligned_call", default=None)


@functools.lru_cache(maxsize=64)
def warn_once(message):
    """Log a warning the first time it is said in this process (attention runs thousands of times a step)."""
    log.warning(message)


@dataclass(frozen=True)
class SigmaRange:
    """The active part of the schedule as sigmas (high >= low), from start/end percent."""

    high: float
    low: float

    @classmethod
    def of(cls, model_sampling, start_percent, end_percent):
        return cls(float(model_sampling.percent_to_sigma(start_percent)),
                   float(model_sampling.percent_to_sigma(end_percent)))

    def contains(self, sigmas):
        if sigmas is None:
            return True
        sigma = float(sigmas.max())
        return self.low * (1 - 1e-5) <= sigma <= self.high * (1 + 1e-5)


@dataclass(frozen=True)
class Settings:
    """Everything one Style Aligned Patch Model node decided: the method's knobs, where it is active, the K
    references (an inverted trajectory, or the batch's first rows) and their weights, where the reference
    keys sit on RoPE models, and the layers that share. Built once by keyword; never changed."""

    opts: SharingOptions = field(default_factory=SharingOptions)
    sigma_range: SigmaRange = SigmaRange(float("inf"), 0.0)
    refs: int = 1
    weights: tuple = None
    positions: str = "shift"
    selected: frozenset = frozenset()
    reference: object = None  # a core.reference.trajectory.Trajectory, or None: the batch's first rows
    hold_sigma: float = None  # the reference rows stay at this sigma while the targets are noisier
    strength: str = "fixed"  # the reference keys' factor: score_scale throughout, or "decrease" with the noise
    untwist: tuple = (0.75, 1.4)  # reference_positions "untwist": the high- and low-frequency gains at the end
    model_sampling: object = None  # the model's, to place a sigma in the schedule

    def noise_fraction(self, sigma):
        """Where `sigma` sits in the model's schedule as its timestep over the largest one: 1 at pure noise, 0 at
        the end (a flow model's sigma itself; t / 1000 on a discrete model, as AlignedGen's (t / 1000))."""
        ms = self.model_sampling
        if ms is None:
            return 1.0
        return float(ms.timestep(sigma.max().reshape(1)) / ms.timestep(ms.sigma_max.reshape(1)))

    def for_call(self, sigma):
        """(the knobs at this sigma, the progress through the schedule): with strength "decrease" the reference
        keys' factor is score_scale * (t / T)^2, AlignedGen's default mode."""
        fraction = self.noise_fraction(sigma) if self.strength == "decrease" or self.positions == "untwist" else 1.0
        opts = self.opts
        if self.strength == "decrease":
            opts = dataclasses.replace(opts, score_scale=opts.score_scale * fraction**2)
        return opts, 1.0 - fraction


@dataclass
class Call:
    """One model call, seen by the attention hooks of that call only: the chunk count, the latent's size
    (DiTs shift the reference keys by its width), whether sharing is active at this sigma (decided once for
    every layer), and, on DiTs, the joint sequence's (text, image) token counts as the blocks that see text and
    image apart report them (the single-stream blocks after them see one sequence)."""

    settings: Settings
    chunks: int
    active: bool
    latent_shape: tuple
    opts: SharingOptions = None  # the knobs at this call's sigma (see Settings.for_call)
    progress: float = 0.0  # through the schedule: 0 at pure noise, 1 at the end
    joint: tuple = None

    @property
    def width(self):
        return self.latent_shape[-1]


def call_of(transformer_options):
    """The Call of the model call these options belong to, or None when our model wrapper did not run (a
    wrapper registered later that does not call the one before it): the hooks then run plainly and say so."""
    call = (transformer_options or {}).get(CALL)
    if call is None:
        warn_once("Style Aligned: the model ran without the Style Aligned model wrapper (a model wrapper set after "
                  "Style Aligned Patch Model does not call the one before it), so these images are not aligned; "
                  "put Style Aligned Patch Model after that node")
    return call


def current_call():
    """The Call running in this thread (for hooks the host gives no transformer_options, such as GroupNorm)."""
    return _current_call.get()


@contextlib.contextmanager
def running(call):
    token = _current_call.set(call)
    try:
        yield
    finally:
        _current_call.reset(token)


class StyleAlignedWrapper:
    """Model wrapper around every model call.

    - makes the call's `Call` and passes it down in a copy of the call's transformer_options, where the
      family's hooks find it (`per_call` lets the family re-chain its attention hook there, for instance over
      an attention override set on the model after this patch);
    - with an inverted reference, sets rows 0..K-1 of every chunk to the trajectory at this sigma
      (here, keyed by sigma, not in the sampler callback that runs one step late) and returns the
      clean reference as their denoised output, so the reference rows end as the reference;
    - zeroes the ControlNet residual of the reference rows when the chunk has targets, as the
      original does: control shapes the targets, not the style source.
    """

    def __init__(self, settings, previous=None, per_call=None):
        self.settings = settings
        self.previous = previous
        self.per_call = per_call

    def __call__(self, apply_model, args):
        s = self.settings
        chunks = len(args.get("cond_or_uncond") or [0])
        x, sigma = args["input"], args["timestep"]
        active = s.sigma_range.contains(sigma)
        opts, progress = s.for_call(sigma) if active else (s.opts, 0.0)
        call = Call(s, chunks, active, tuple(x.shape), opts, progress)
        c = dict(args["c"])
        options = {**c.get("transformer_options", {}), CALL: call}
        if self.per_call is not None:
            self.per_call(options)
        c["transformer_options"] = options
        if c.get("control") is not None and x.shape[0] // chunks > s.refs:
            c["control"] = _without_reference_control(c["control"], chunks, s.refs)
        if s.reference is not None:
            at = sigma if s.hold_sigma is None else sigma.clamp(max=s.hold_sigma)
            x = replace_reference_rows(x, _with_frames(s.reference.latent_at(at), x), chunks)
        args = {**args, "input": x, "c": c}
        with running(call):
            out = self.previous(apply_model, args) if self.previous is not None else apply_model(x, sigma, **c)
        if s.reference is not None:
            out = replace_reference_rows(out, _with_frames(s.reference.clean, out), chunks)
        return out


def _with_frames(reference, x):
    """Reference latents (K, C, H, W) as one-frame rows (K, C, 1, H, W) where the model's are (Qwen-Image)."""
    return reference.unsqueeze(2) if x.ndim == reference.ndim + 1 else reference


def _without_reference_control(control, chunks, refs):
    """ControlNet residuals ({"input": [...], "middle": [...], "output": [...]}) minus the reference rows."""
    return {key: [None if r is None else zero_reference_rows(r, chunks, refs) for r in residuals]
            for key, residuals in control.items()}
