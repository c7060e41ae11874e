"""The hooks the patch node registers on a model clone: the call state the model wrapper shares with
the attention and GroupNorm patches, the `attn1_replace` patch, the GroupNorm object patch and the
model wrapper. Host glue; the method they call lives in core/.
"""

import contextlib
import functools
import inspect

import torch.nn.functional as F

from ..core.alignment.attention import attention, shared_attention
from ..core.alignment.group_norm import shared_group_norm
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
    """What the model wrapper learns once per UNet call, for the attention and GroupNorm patches:
    the chunk count and whether sharing is active at this sigma (one host sync per call, not one
    per layer).

    Shared by reference between the wrapper (in model_options, which clone() deep-copies) and
    the patches, so deep copies return the same object.
    """

    def __init__(self, sigma_range):
        self.sigma_range = sigma_range
        self.chunks = 1
        self.active = True
        self.inside = False  # during a model call that went through our wrapper

    def __deepcopy__(self, memo):
        return self

    @contextlib.contextmanager
    def model_call(self, chunks, timestep):
        """Around one model call: the chunk count, and the active range decided once for all layers."""
        self.chunks, self.active, self.inside = chunks, self.sigma_range.contains(timestep), True
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


@functools.lru_cache(maxsize=8)
def _accepts_kwargs(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def host_attend(previous, extra_options):
    """The attention kernel for every part that carries no score bias: another pack's replace
    registered before ours, else the host's own kernel (the one the unpatched model uses, so the
    reference rows match it exactly). Biased parts use our fused extra-channel attention."""
    if previous is None:
        from comfy.ldm.modules.attention import optimized_attention

        # Newer hosts pass transformer_options to the kernel, where another pack may have put an
        # `optimized_attention_override` (SageAttention and the like); pass them on so the reference
        # rows see the same kernel as the unpatched model. The old host's kernel takes no **kwargs.
        takes_options = _accepts_kwargs(optimized_attention)

        def previous(q, k, v, options):
            extra = {"transformer_options": options} if takes_options else {}
            return optimized_attention(q, k, v, options["n_heads"], attn_precision=options.get("attn_precision"),
                                       **extra)

    def attend(q, k, v, heads, key_bias=None):
        if key_bias is not None:
            return attention(q, k, v, heads, key_bias=key_bias)
        lead = q.shape[:-2]
        out = previous(*(t.reshape(-1, *t.shape[-2:]) for t in (q, k, v)), extra_options)
        return out.reshape(*lead, *out.shape[-2:])

    return attend


class SharedAttentionPatch:
    """`attn1_replace` callable: StyleAligned attention inside the active range, plain outside.

    With K inverted references, rows 0..K-1 of every chunk are references and their weights
    enter as score shifts and as the mixture of AdaIN statistics.
    """

    def __init__(self, opts, state, previous=None, refs=1, weights=None):
        self.opts = opts
        self.state = state
        self.previous = previous
        self.refs = refs
        self.weights = weights

    def __call__(self, q, k, v, extra_options):
        heads = extra_options["n_heads"]
        attend = host_attend(self.previous, extra_options)
        if not self.state.active_for(extra_options):
            return attend(q, k, v, heads)
        chunks = len(extra_options.get("cond_or_uncond") or [0])
        return shared_attention(q, k, v, heads, chunks, self.refs, self.opts, self.weights, attend)


class SharedGroupNormForward:
    """Object patch for one GroupNorm's `forward`; reverted by the host when the clone unloads."""

    def __init__(self, norm, state, refs=1):
        self.norm = norm
        self.state = state
        self.refs = refs

    def __call__(self, x):
        import comfy.ops

        norm = self.norm
        weight, bias = (None, None) if norm.weight is None else comfy.ops.cast_bias_weight(norm, x)
        if not self.state.active:
            return F.group_norm(x, norm.num_groups, weight, bias, norm.eps)
        return shared_group_norm(x, norm.num_groups, weight, bias, norm.eps, self.state.chunks, self.refs)


class StyleAlignedWrapper:
    """Model wrapper around every UNet call.

    - records the chunk count and sigma for the GroupNorm patches;
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
        with self.state.model_call(chunks, sigma):
            c = dict(args["c"])
            if c.get("control") is not None and x.shape[0] // chunks > self.refs:
                c["control"] = _without_reference_control(c["control"], chunks, self.refs)
            if self.reference is not None:
                at = sigma if self.hold_sigma is None else sigma.clamp(max=self.hold_sigma)
                x = replace_reference_rows(x, self.reference.latent_at(at), chunks)
            args = {**args, "input": x, "c": c}
            if self.previous is not None:
                out = self.previous(apply_model, args)
            else:
                out = apply_model(x, sigma, **c)
        if self.reference is not None:
            out = replace_reference_rows(out, self.reference.clean, chunks)
        return out


def _without_reference_control(control, chunks, refs):
    """ControlNet residuals ({"input": [...], "middle": [...], "output": [...]}) minus the reference rows."""
    return {key: [None if r is None else zero_reference_rows(r, chunks, refs) for r in residuals]
            for key, residuals in control.items()}
