"""Style Aligned Set Sampler in the real host: a whole prompt list in one press, window by window (tiny SD1.5,
SDXL and Flux with their tiny text encoders): equal to the windows queued by hand (bit for bit) and to one
batch (float tolerance), memory of one window whatever the list's length, progress over the whole set, and an
interrupted run resumed without recomputing its finished windows. The custom variant equals the windows queued
by hand through the host's SamplerCustomAdvanced."""

import functools
import inspect

import pytest
import torch
from harness import host, tiny_dit_text
from harness import tiny_models as tiny
from style_aligned.nodes import set_sampler
from style_aligned.nodes.batch_prompts import StyleAlignedBatchPrompts
from style_aligned.nodes.patch import StyleAlignedPatchModel
from style_aligned.nodes.reference import DDIMInvertReference
from style_aligned.nodes.set_sampler import StyleAlignedSetSampler, StyleAlignedSetSamplerCustom

SAMPLING = dict(seed=7, steps=2, sampler_name="euler", scheduler="normal")
CFG = {"sd15": 5.0, "sdxl": 5.0, "flux": 1.0}


def prompt_list(count):
    return "\n".join(["a lighthouse"] + [f"subject number {i}" for i in range(1, count)])


@functools.cache
def setup(kind):
    """(patched model, clip, negative) of a tiny model of `kind`."""
    if kind == "flux":
        model, clip = tiny.tiny_flux(), tiny_dit_text.tiny_dit_clip("flux", seed=0)
    else:
        model, clip = tiny.tiny_model(kind), tiny.tiny_clip(kind)
    negative = host.run_node(host.stock_nodes()["CLIPTextEncode"], clip=clip, text="")[0]
    return model, clip, negative


@functools.cache
def reference_of(kind):
    """A saved-style reference: a random latent inverted on the tiny model (8 x 8, as the prompts' size)."""
    model, clip, _ = setup(kind)
    channels = 16 if kind == "flux" else 4
    latent = {"samples": torch.randn(1, channels, 8, 8, generator=torch.Generator().manual_seed(3))}
    positive = host.run_node(host.stock_nodes()["CLIPTextEncode"], clip=clip, text="a lighthouse")[0]
    return host.run_node(DDIMInvertReference, model=model, latent=latent, positive=positive, steps=4)[0]


def batch_prompts(clip, count, reference=None, **window):
    return host.run_node(StyleAlignedBatchPrompts, clip=clip, prompts=prompt_list(count), style="", width=64,
                         height=64, style_reference=reference, **window)


def patched(kind, reference=None):
    return host.run_node(StyleAlignedPatchModel, model=setup(kind)[0], style_reference=reference)[0]


def by_hand(kind, count, size, reference=None):
    """Each window queued by hand: Batch Prompts with window_start / window_size, then the host's KSampler; the
    reference rows kept from the first window only."""
    model, clip, negative = setup(kind)
    style = patched(kind, reference)
    refs = 1 if reference is None else reference.ref_count
    ksampler = host.stock_nodes()["KSampler"]
    rows = []
    for number, (start, window) in enumerate(set_sampler.windows(count, size)):
        positive, latent = batch_prompts(clip, count, reference, window_start=start, window_size=window)[:2]
        out = host.run_node(ksampler, model=style, positive=positive, negative=negative, latent_image=latent,
                            cfg=CFG[kind], denoise=1.0, **SAMPLING)[0]["samples"]
        rows.append(out if number == 0 else out[refs:])
    return torch.cat(rows)


def in_one_press(kind, count, size, reference=None, model=None):
    _, clip, negative = setup(kind)
    prompt_set = batch_prompts(clip, count, reference)[3]
    return host.run_node(StyleAlignedSetSampler, model=model or patched(kind, reference), prompt_set=prompt_set,
                         negative=negative, window_size=size, cfg=CFG[kind], **SAMPLING)[0]["samples"]


@pytest.mark.parametrize("with_reference", [False, True], ids=["prompts only", "saved style reference"])
@pytest.mark.parametrize("kind", ["sd15", "sdxl", "flux"])
def test_a_24_prompt_list_in_one_press_equals_the_windows_by_hand_and_one_batch(kind, with_reference):
    reference = reference_of(kind) if with_reference else None
    pressed = in_one_press(kind, 25, 4, reference)
    assert pressed.shape[0] == 25  # the reference once, then 24 targets in prompt order
    assert torch.equal(pressed, by_hand(kind, 25, 4, reference))
    one_batch = by_hand(kind, 25, 24, reference)  # a single window holding the whole list
    torch.testing.assert_close(pressed, one_batch, rtol=1e-4, atol=1e-4 * one_batch.abs().amax().item())


def custom_sampling(kind, model):
    """The nodes of a custom-sampling graph, from the host: (noise, sampler, sigmas) for `model`."""
    nodes = host.stock_nodes()
    noise = host.run_node(nodes["RandomNoise"], noise_seed=SAMPLING["seed"])[0]
    sampler = host.run_node(nodes["KSamplerSelect"], sampler_name="euler")[0]
    sigmas = host.run_node(nodes["BasicScheduler"], model=model, scheduler="simple", steps=3, denoise=1.0)[0]
    return noise, sampler, sigmas


def by_hand_custom(kind, count, size):
    """Each window queued by hand through SamplerCustomAdvanced with a CFGGuider."""
    _, clip, negative = setup(kind)
    style = patched(kind)
    noise, sampler, sigmas = custom_sampling(kind, style)
    nodes, rows = host.stock_nodes(), []
    for number, (start, window) in enumerate(set_sampler.windows(count, size)):
        positive, latent = batch_prompts(clip, count, window_start=start, window_size=window)[:2]
        guider = host.run_node(nodes["CFGGuider"], model=style, positive=positive, negative=negative, cfg=CFG[kind])[0]
        out = host.run_node(nodes["SamplerCustomAdvanced"], noise=noise, guider=guider, sampler=sampler,
                            sigmas=sigmas, latent_image=latent)[0]["samples"]
        rows.append(out if number == 0 else out[1:])
    return torch.cat(rows)


@pytest.mark.parametrize("kind", ["sd15", "flux"])
def test_the_custom_set_sampler_equals_sampler_custom_advanced_window_by_window(kind):
    _, clip, negative = setup(kind)
    style = patched(kind)
    noise, sampler, sigmas = custom_sampling(kind, style)
    prompt_set = batch_prompts(clip, 11, None)[3]
    pressed = host.run_node(StyleAlignedSetSamplerCustom, model=style, prompt_set=prompt_set, negative=negative,
                            window_size=4, noise=noise, cfg=CFG[kind], sampler=sampler, sigmas=sigmas)[0]
    assert pressed["samples"].shape[0] == 11 and pressed["batch_index"] == list(range(11))
    assert torch.equal(pressed["samples"], by_hand_custom(kind, 11, 4))
    # and it samples what the KSampler-like Set Sampler samples with the same schedule (simple, 3 steps)
    ksampler_like = host.run_node(StyleAlignedSetSampler, model=style, prompt_set=prompt_set, negative=negative,
                                  window_size=4, cfg=CFG[kind], **{**SAMPLING, "steps": 3, "scheduler": "simple"})[0]
    torch.testing.assert_close(pressed["samples"], ksampler_like["samples"])


def test_the_latent_is_fitted_by_its_downscale_ratio_as_the_hosts_samplers_fit_it():
    """An empty clip laid out at 1/8 for a model whose latents are 1/16 (Wan 2.2 5B): the host's samplers fit it
    to the model by the latent's downscale_ratio_spacial, and so does the Set Sampler."""
    import comfy.sample

    model = setup("flux")[0]  # latent format 1/8: a latent that says 1/4 is fitted to half its size
    latent = {"samples": torch.zeros(2, 16, 8, 8), "downscale_ratio_spacial": 4}
    fitted = set_sampler.fitted_latent(model, latent)
    if "downscale_ratio_spacial" in inspect.signature(comfy.sample.fix_empty_latent_channels).parameters:
        assert fitted.shape == (2, 16, 4, 4)
    else:  # v0.3.64 fits channels only
        assert fitted.shape == (2, 16, 8, 8)


class ModelCalls:
    """Counts model calls and the host's own estimate of their memory (model.memory_required of the batch)."""

    def __init__(self, model):
        self.rows, self.memory, self.calls = [], [], 0
        self.inner = model.model

    def __call__(self, apply_model, args):
        self.calls += 1
        self.rows.append(args["input"].shape[0])
        self.memory.append(self.inner.memory_required(args["input"].shape))
        return apply_model(args["input"], args["timestep"], **args["c"])


def test_peak_memory_is_one_windows_whatever_the_list_length():
    peaks = {}
    for count in (9, 25, 97):  # the reference + 8, 24 and 96 prompts
        model = patched("sd15").clone()
        calls = ModelCalls(model)
        previous = model.model_options["model_function_wrapper"]
        model.set_model_unet_function_wrapper(lambda apply, args, p=previous, seen=calls: p(lambda *a, **k: seen(
            apply, {**args, "input": a[0], "timestep": a[1], "c": k}), args))
        in_one_press("sd15", count, 4, model=model)
        peaks[count] = (max(calls.rows), max(calls.memory))
    assert len(set(peaks.values())) == 1, peaks  # rows per model call and the host's memory estimate: flat


def test_the_progress_bar_counts_windows_times_steps_and_shows_previews(monkeypatch):
    import comfy.utils
    import latent_preview

    seen = {}

    class Bar:
        def __init__(self, total):
            seen["total"], seen["values"], seen["previews"] = total, [], []

        def update_absolute(self, value, total=None, preview=None):
            seen["values"].append(value)
            seen["previews"].append(preview)

    monkeypatch.setattr(comfy.utils, "ProgressBar", Bar)
    # previews on, as a user's --preview-method latent2rgb sets them: each step shows the host's preview image
    monkeypatch.setattr(latent_preview.args, "preview_method", latent_preview.LatentPreviewMethod.Latent2RGB)
    set_sampler._FINISHED.clear()
    in_one_press("sd15", 9, 4)  # 2 windows x 2 steps
    assert seen["total"] == 4 and seen["values"][-1] == 4 and seen["values"] == sorted(seen["values"])
    previews = [p for p in seen["previews"] if p is not None]
    assert len(previews) == 4 and all(p[0] == "JPEG" and p[1].size == (8, 8) for p in previews), previews


def test_an_interrupted_set_resumes_without_recomputing_its_finished_windows(monkeypatch):
    import comfy.model_management

    set_sampler._FINISHED.clear()
    model = patched("sd15")
    sampled, original = [], set_sampler.sample_window

    def counted(*args, **kwargs):
        out = original(*args, **kwargs)
        sampled.append(1)
        if len(sampled) == 2:  # the user presses Cancel while the second window finishes
            comfy.model_management.interrupt_current_processing(True)
        return out

    monkeypatch.setattr(set_sampler, "sample_window", counted)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        in_one_press("sd15", 17, 4, model=model)  # 4 windows
    assert len(sampled) == 2
    comfy.model_management.interrupt_current_processing(False)
    resumed = in_one_press("sd15", 17, 4, model=model)
    assert len(sampled) == 4  # only windows 3 and 4 were sampled again
    set_sampler._FINISHED.clear()
    assert torch.equal(resumed, in_one_press("sd15", 17, 4, model=model))


def test_windows_and_a_bad_window_size():
    assert set_sampler.windows(25, 4) == [(0, 4), (4, 4), (8, 4), (12, 4), (16, 4), (20, 4)]
    assert set_sampler.windows(7, 4) == [(0, 4), (4, 2)]
    assert set_sampler.windows(1, 4) == [(0, 0)]
    with pytest.raises(ValueError, match="window_size must be at least 1"):
        set_sampler.windows(5, 0)
