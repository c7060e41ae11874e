"""StyleAlignedSetSampler: a whole prompt list in one press, window by window, on one GPU; and
StyleAlignedSetSamplerCustom, the same for custom-sampling graphs (noise, sampler and sigmas nodes).

Every window is the reference row(s) plus at most `window_size` targets, encoded by the batch-prompts node
and sampled as KSampler samples, or as SamplerCustomAdvanced with a CFGGuider (the same noise per row: it depends
only on the prompt's place in the list), so each window is bit for bit what queueing it by hand gives, and peak
memory is that of one window whatever the list's length. Finished windows are kept (in CPU memory, for this
model and these settings), so pressing Queue again after an interruption samples only the windows that were not
finished.
"""

import collections
import hashlib
import inspect
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


def _set_key(owners, prompt_set, negative, settings):
    """What every finished window of this press depends on but its place: these very objects (the patched clone,
    and for the custom sampler its noise and sampler), the list's inputs but the text encoder (which the same clip
    object stands for), the negative and the sampler settings. A window's key is this and its (start, size)."""
    inputs = {k: v for k, v in prompt_set.inputs.items() if k != "clip"}
    return tuple(map(id, owners)), id(prompt_set.inputs.get("clip")), _digest([inputs, negative, settings])


def _finished(key, owners):
    with _lock:
        entry = _FINISHED.get(key)
        if entry is None or any(ref() is not owner for ref, owner in zip(entry[0], owners, strict=True)):
            return None
        _FINISHED.move_to_end(key)
        return entry[1]


def _keep(key, owners, rows):
    try:
        refs = tuple(map(weakref.ref, owners))
    except TypeError:  # an object of another pack that cannot be weakly referenced: its windows are not kept
        return
    with _lock:
        _FINISHED[key] = (refs, rows)
        total = sum(r.numel() * r.element_size() for _, r in _FINISHED.values())
        while total > FINISHED_BYTES and len(_FINISHED) > 1:
            _, (_, dropped) = _FINISHED.popitem(last=False)
            total -= dropped.numel() * dropped.element_size()


def fitted_latent(model, latent):
    """The latent's samples fitted to the model as the host's samplers fit an empty latent (channels; on hosts that
    take them, the latent's downscale ratios: a Wan 2.2 5B clip laid out at 1/8 becomes 1/16)."""
    import comfy.sample

    accepted = inspect.signature(comfy.sample.fix_empty_latent_channels).parameters
    ratios = {k: latent.get(k) for k in ("downscale_ratio_spacial", "downscale_ratio_temporal") if k in accepted}
    return comfy.sample.fix_empty_latent_channels(model, latent["samples"], **ratios)


def sample_window(model, positive, negative, latent, seed, steps, cfg, sampler_name, scheduler, denoise, callback):
    """One window sampled exactly as the host's KSampler samples a batch (nodes.common_ksampler)."""
    import comfy.sample
    import comfy.utils

    latent_image = fitted_latent(model, latent)
    noise = comfy.sample.prepare_noise(latent_image, seed, latent.get("batch_index"))
    return comfy.sample.sample(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
                               denoise=denoise, noise_mask=latent.get("noise_mask"), callback=callback,
                               disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)


def sample_window_custom(model, positive, negative, latent, noise, cfg, sampler, sigmas, callback):
    """One window sampled exactly as the host's SamplerCustomAdvanced samples a batch with a CFGGuider."""
    import comfy.samplers
    import comfy.utils

    latent = {**latent, "samples": fitted_latent(model, latent)}
    guider = comfy.samplers.CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    return guider.sample(noise.generate_noise(latent), latent["samples"], sampler, sigmas,
                         denoise_mask=latent.get("noise_mask"), callback=callback,
                         disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=noise.seed)


def _previewer(model):
    """The host's latent previewer for this model (None when previews are off), as KSampler's callback uses it."""
    import latent_preview

    return latent_preview.get_previewer(model.load_device, model.model.latent_format)


def sample_set(model, prompt_set, window_size, steps, key, sample):
    """The whole list, window after window: `sample(positive, latent, callback)` samples one window; `key` is
    (the objects the windows depend on, what else they depend on), so that finished windows are kept and found
    again. The result is the set in prompt order, the reference once, as one batch's latent would give it."""
    import comfy.model_management
    import comfy.utils

    plan = windows(prompt_set.count, window_size)
    total = len(plan) * steps
    bar, previewer = comfy.utils.ProgressBar(total), _previewer(model)
    owners = key[0]
    set_key = _set_key(owners, prompt_set, *key[1:])  # digested once, not per window
    rows, noise_rows = [], []
    for number, window in enumerate(plan):
        comfy.model_management.throw_exception_if_processing_interrupted()  # between windows
        samples = _finished((*set_key, window), owners)
        positive, latent = prompt_set.window(*window)
        if samples is None:
            def progress(step, x0, *_, done=number * steps):
                shown = previewer.decode_latent_to_preview_image("JPEG", x0) if previewer else None
                bar.update_absolute(done + step + 1, total, shown)

            samples = sample(positive, latent, progress).cpu()
            _keep((*set_key, window), owners, samples)
        bar.update_absolute((number + 1) * steps, total)
        skip = 0 if number == 0 else prompt_set.refs  # the reference once
        rows.append(samples[skip:])
        noise_rows += latent.get("batch_index", [])[skip:]
    # the rest of the latent as every window has it, less the downscale ratios (read by the sampler only: the
    # host's samplers drop them from their output too)
    rest = {k: v for k, v in latent.items() if k not in ("downscale_ratio_spacial", "downscale_ratio_temporal")}
    return {**rest, "samples": torch.cat(rows), **({"batch_index": noise_rows} if noise_rows else {})}


def _inputs(*specific):
    """The inputs of both set samplers: model and prompt set first, window size after the sampler's own."""
    return [
        io.Model.Input("model", tooltip="The patched model from Style Aligned Patch Model."),
        io.Custom(PROMPT_SET).Input("prompt_set", tooltip="The prompt_set output of Style Aligned Batch Prompts "
                                    "(its own window inputs are ignored here)."),
        io.Conditioning.Input("negative", tooltip="The negative prompt (one row, used for every image)."),
        io.Int.Input("window_size", default=4, min=1, max=4096,
                     tooltip="Targets per window besides the reference. Peak memory is that of one window of "
                             "window_size + 1 images: see the README's table for your card."),
        *specific,
    ]


WINDOWS_OUTPUT = outputs((io.Latent, None, "The whole set in prompt order, the reference first, one row each."))


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
                         "any set size on one GPU, every window sharing the reference's style (as KSampler)."),
            inputs=_inputs(
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
            ),
            outputs=WINDOWS_OUTPUT,
        )

    @classmethod
    def execute(cls, model, prompt_set, negative, window_size, seed, steps, cfg, sampler_name, scheduler,
                denoise=1.0):
        settings = dict(seed=seed, steps=steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
                        denoise=denoise)

        def sample(positive, latent, callback):
            return sample_window(model, positive, negative, latent, callback=callback, **settings)

        return io.NodeOutput(sample_set(model, prompt_set, window_size, steps, ((model,), negative, settings),
                                        sample))


class StyleAlignedSetSamplerCustom(io.ComfyNode):
    DETAILS = (
        "The Set Sampler for graphs built on SamplerCustomAdvanced (FLUX.2's and Flux's custom-sampling graphs): "
        "connect the noise, sampler and sigmas your SamplerCustomAdvanced takes, and the cfg of its guider "
        "(CFGGuider's; a BasicGuider is cfg 1). Each window is then bit for bit what SamplerCustomAdvanced gives "
        "for that window queued by hand. Windows, progress, Cancel and Queue again as in the Set Sampler."
    )

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StyleAlignedSetSamplerCustom",
            display_name="Style Aligned Set Sampler (Custom)",
            category=CATEGORY,
            description=("The Set Sampler for custom-sampling graphs: a whole prompt list in windows, one press, "
                         "sampled as SamplerCustomAdvanced with a CFGGuider samples each window."),
            inputs=_inputs(
                io.Noise.Input("noise", tooltip="The noise, as SamplerCustomAdvanced's (RandomNoise: each image's "
                                                "noise depends only on its place in the list)."),
                io.Float.Input("cfg", default=1.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="The guider's classifier-free guidance, as CFGGuider's (1 = BasicGuider: "
                                       "the negative is not used)."),
                io.Sampler.Input("sampler", tooltip="The sampler, as SamplerCustomAdvanced's (KSamplerSelect)."),
                io.Sigmas.Input("sigmas", tooltip="The noise levels of every window, as SamplerCustomAdvanced's "
                                                  "(a scheduler node's output)."),
            ),
            outputs=WINDOWS_OUTPUT,
        )

    @classmethod
    def execute(cls, model, prompt_set, negative, window_size, noise, cfg, sampler, sigmas):
        def sample(positive, latent, callback):
            return sample_window_custom(model, positive, negative, latent, noise, cfg, sampler, sigmas, callback)

        steps = max(len(sigmas) - 1, 1)
        return io.NodeOutput(sample_set(model, prompt_set, window_size, steps,
                                        ((model, noise, sampler), negative, dict(cfg=cfg, sigmas=sigmas)), sample))


NODES = [StyleAlignedSetSampler, StyleAlignedSetSamplerCustom]
