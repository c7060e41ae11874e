"""Watching the host's model calls: record every UNet call, replay one on the unpatched model, and
force cond and uncond into separate calls (as when memory is short)."""

import contextlib

import torch


class Shared:
    """Base of a patch object that records: ModelPatcher.clone() deep-copies model_options, and every
    clone must record into this one object."""

    def __deepcopy__(self, memo):
        return self


class OtherOverride(Shared):
    """Another pack's attention override (a SageAttention-like kernel swap): counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, func, *args, **kwargs):
        self.calls += 1
        return func(*args, **kwargs)


class OtherBlockReplace(Shared):
    """Another pack's "dit" block replace: counts its calls and the rows of the modulation vector it sees."""

    def __init__(self):
        self.calls, self.vec_rows = 0, []

    def __call__(self, args, extra):
        self.calls += 1
        if isinstance(args.get("vec"), torch.Tensor):  # FLUX.2's and Chroma's modulations are objects
            self.vec_rows.append(args["vec"].shape[0])
        return extra["original_block"](args)


class CallRecorder(Shared):
    """Another pack's model wrapper: records every UNet call (input, sigma, c, output) and chains
    the wrapper that was there before it."""

    def __init__(self, previous=None):
        self.calls = []
        self.previous = previous

    def __call__(self, apply_model, args):
        if self.previous is not None:
            out = self.previous(apply_model, args)
        else:
            out = apply_model(args["input"], args["timestep"], **args["c"])
        self.calls.append({"input": args["input"].clone(), "timestep": args["timestep"].clone(), "c": args["c"],
                           "cond_or_uncond": list(args["cond_or_uncond"]), "output": out.clone()})
        return out

    @classmethod
    def install(cls, model_patcher):
        """Wrap whatever wrapper the model has (ours included)."""
        recorder = cls(model_patcher.model_options.get("model_function_wrapper"))
        model_patcher.set_model_unet_function_wrapper(recorder)
        return recorder


def replay_unpatched(model_patcher, call):
    """Run one recorded model call on the plain model: no attention replaces or override, no object patches."""
    import comfy.model_management

    comfy.model_management.load_models_gpu([model_patcher])  # the host unpatches any other clone
    c = dict(call["c"])
    options = c.get("transformer_options", {})
    hooks = ("patches", "patches_replace", "optimized_attention_override")
    c["transformer_options"] = {k: v for k, v in options.items() if k not in hooks}
    own = model_patcher.model_options.get("transformer_options", {})
    if "optimized_attention_override" in own:  # another pack's kernel on the plain model itself
        c["transformer_options"]["optimized_attention_override"] = own["optimized_attention_override"]
    with torch.no_grad():
        return model_patcher.model.apply_model(call["input"], call["timestep"], **c)


def rows_against_unpatched(model_patcher, recorder, refs=1):
    """Over the recorded calls of a patched clone of `model_patcher`: (largest reference-row difference from
    the unpatched model / its output scale, smallest target-row difference)."""
    worst_ref, least_target = 0.0, float("inf")
    for call in recorder.calls:
        plain = replay_unpatched(model_patcher, call)
        chunks = len(call["cond_or_uncond"])
        rows = plain.shape[0] // chunks
        scale = plain.abs().amax().item()
        for chunk in range(chunks):
            first = chunk * rows
            own = slice(first, first + refs)
            worst_ref = max(worst_ref, (call["output"][own] - plain[own]).abs().amax().item() / scale)
            targets = slice(first + refs, first + rows)
            least_target = min(least_target, (call["output"][targets] - plain[targets]).abs().amax().item())
    return worst_ref, least_target


@contextlib.contextmanager
def forced_split(model_patcher):
    """Inside: cond and uncond run in separate UNet calls (as when memory is short)."""
    model_patcher.model.memory_required = lambda *args, **kwargs: 1e30
    try:
        yield
    finally:
        del model_patcher.model.memory_required


@contextlib.contextmanager
def recorded(owner, name="__call__", context=None):
    """Inside: every call of `owner.<name>` (a class's method, e.g. one of our attention hooks, or a module's
    function, e.g. the host's flux attention) runs as before and is recorded as a dict: "args" and "kwargs"
    (tensors cloned, as they were passed), "output" and, with `context`, "context": context() at the call (the
    state a hook reads from elsewhere, such as the running Style Aligned call). Yields the list of records."""
    calls = []
    original = getattr(owner, name)
    own = name in vars(owner)  # else inherited: restored by removing the wrapper

    def copy(value):
        return value.detach().clone() if isinstance(value, torch.Tensor) else value

    def wrapper(*args, **kwargs):
        record = {"args": tuple(copy(a) for a in args), "kwargs": {k: copy(v) for k, v in kwargs.items()}}
        if context is not None:
            record["context"] = context()
        output = original(*args, **kwargs)
        record["output"] = copy(output)
        calls.append(record)
        return output

    setattr(owner, name, wrapper)
    try:
        yield calls
    finally:
        if own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)
