"""StyleAlignedSetSampler: a whole prompt list in one press, window by window, on one GPU.

Every window is the reference row(s) plus at most `window_size` targets, encoded by the batch-prompts node
and sampled as KSampler samples (the same noise per row: it depends only on the prompt's place in the list),
so each window is bit for bit what queueing it by hand gives, and peak memory is that of one window whatever
the list's length. Finished windows are kept (in CPU memory, for this model and these settings), so pressing
Queue again after an interruption samples only the windows that were not finished.
"""

import collections
import hashlib
import threading
import weakref

import torch
from comfy_api.latest import io

from .batch_prompts import PROMPT_SET
from .ui import ADVANCED, outputs

CATEGORY = "style_aligned"
_FINISHED = collections.OrderedDict()  # window key -> (weak model, rows on the CPU); bounded by FINISHED_BYTES
FINISHED_BYTES = 2 * 1024**3
_lock = threading.Lock()


def windows(count, size):
    """(window_start, window_size) of every window of a list of `count` prompts whose first is the reference:
    at least one window (a list of the reference alone is one)."""
    targets = max(count - 1, 0)
    if size < 1:
        raise ValueError(f"window_size must be at least 1, got {size}")
    return [(start, min(size, targets - start)) for start in range(0, targets, size)] or [(0, 0)]


def _digest(value):
    """A stable fingerprint of a node input (tensors by their bytes, containers item by item)."""
    h = hashlib.sha256()

    def feed(v):
        if isinstance(v, torch.Tensor):
            h.update(str((v.dtype, tuple(v.shape))).encode())
            h.update(v.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        elif isinstance(v, dict):
            for k in sorted(v, key=str):
                h.update(str(k).encode())
                feed(v[k])
        elif isinstance(v, (list, tuple)):
            for item in v:
                feed(item)
        else:
            h.update(repr(v).encode())

    feed(value)
    return h.hexdigest()


def _set_key(model, prompt_set, negative, settings):
    """What every finished window of this press depends on but its place: this very model (the patched clone),
    the list's inputs but the text encoder (which the same clip object stands for), the negative and the sampler
    settings. A window's key is this and its (window_start, window_size)."""
    inputs = {k: v for k, v in prompt_set.inputs.items() if k != "clip"}
    return id(model), id(prompt_set.inputs.get("clip")), _digest([inputs, negative, settings])


def _finished(key, model):
    with _lock:
        entry = _FINISHED.get(key)
        if entry is None or entry[0]() is not model:
            return None
        _FINISHED.move_to_end(key)
        return entry[1]


def _keep(key, model, rows):
    with _lock:
        _FINISHED[key] = (weakref.ref(model), rows)
        total = sum(r.numel() * r.element_size() for _, r in _FINISHED.values())
        while total > FINISHED_BYTES and len(_FINISHED) > 1:
            _, (_, dropped) = _FINISHED.popitem(last=False)
            total -= dropped.numel() * dropped.element_size()


def sample_window(model, positive, negative, latent, seed, steps, cfg, sampler_name, scheduler, denoise, callback):
    """One window sampled exactly as the host's KSampler samples a batch (nodes.common_ksampler)."""
    import comfy.sample
    import comfy.utils

    latent_image = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    noise = comfy.sample.prepare_noise(latent_image, seed, latent.get("batch_index"))
    return comfy.sample.sample(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
                               denoise=denoise, callback=callback, disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED,
                               seed=seed)


class StyleAlignedSetSampler(io.ComfyNode):
    DETAILS = (
        "Each window is the reference plus at most window_size targets: the reference row is the same in every "
        "window (same prompt, same noise, and its output does not depend on the targets), so all windows share one "
        "style, and each is bit for bit what queueing that window by hand gives. Peak memory is one window's. "
        "The progress bar counts windows x steps. Interrupting stops between or inside a window; the finished "
        "windows are kept for this model and these settings, so Queue again samples only the rest. The output is "
        "the whole set in prompt order, the reference once, as one batch would give it."
    )

    @classmethod
    def define_schema(cls):
        import comfy.samplers

        return io.Schema(
            node_id="StyleAlignedSetSampler",
            display_name="Style Aligned Set Sampler",
            category=CATEGORY,
            description=("Samples a whole prompt list from Style Aligned Batch Prompts in windows, one press: "
                         "any set size on one GPU, every window sharing the reference's style."),
            inputs=[
                io.Model.Input("model", tooltip="The patched model from Style Aligned Patch Model."),
                io.Custom(PROMPT_SET).Input("prompt_set", tooltip="The prompt_set output of Style Aligned Batch "
                                            "Prompts (its own window inputs are ignored here)."),
                io.Conditioning.Input("negative", tooltip="The negative prompt (one row, used for every image)."),
                io.Int.Input("window_size", default=4, min=1, max=4096,
                             tooltip="Targets per window besides the reference. Peak memory is that of one window "
                                     "of window_size + 1 images: see the README's table for your card."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="The noise seed; each image's noise depends only on its place in the list."),
                io.Int.Input("steps", default=20, min=1, max=10000, tooltip="Sampling steps of every window."),
                io.Float.Input("cfg", default=8.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance (1 for guidance-distilled models such as Flux "
                                       "dev)."),
                io.Combo.Input("sampler_name", options=list(comfy.samplers.KSampler.SAMPLERS),
                               tooltip="The sampler, as KSampler's."),
                io.Combo.Input("scheduler", options=list(comfy.samplers.KSampler.SCHEDULERS),
                               tooltip="The scheduler, as KSampler's."),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="How much of the schedule to run (1 = from pure noise).", **ADVANCED),
            ],
            outputs=outputs((io.Latent, None, "The whole set in prompt order, the reference first, one row each.")),
        )

    @classmethod
    def execute(cls, model, prompt_set, negative, window_size, seed, steps, cfg, sampler_name, scheduler,
                denoise=1.0):
        import comfy.model_management
        import comfy.utils

        plan = windows(prompt_set.count, window_size)
        settings = dict(seed=seed, steps=steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
                        denoise=denoise)
        bar = comfy.utils.ProgressBar(len(plan) * steps)
        set_key = _set_key(model, prompt_set, negative, settings)  # digested once, not per window
        rows = []
        for number, window in enumerate(plan):
            comfy.model_management.throw_exception_if_processing_interrupted()  # between windows
            key = (*set_key, window)
            samples = _finished(key, model)
            positive, latent = prompt_set.window(*window)
            if samples is None:
                def progress(step, *_, done=number * steps):
                    bar.update_absolute(done + step + 1)

                samples = sample_window(model, positive, negative, latent, callback=progress, **settings).cpu()
                _keep(key, model, samples)
            bar.update_absolute((number + 1) * steps)
            rows.append(samples if number == 0 else samples[prompt_set.refs:])  # the reference once
        rest = {k: v for k, v in latent.items() if k not in ("samples", "batch_index")}  # as every window has it
        return io.NodeOutput({**rest, "samples": torch.cat(rows)})


NODES = [StyleAlignedSetSampler]
