"""The patch on what current hosts add around attention: an attention backend chosen after (or before) the
patch, a checkpoint-selected kernel, masked joint attention (padded text), a model wrapper that drops ours,
and the small inputs a hostile user tries (one prompt line on SD3 with PyTorch attention, one image token)."""

import logging

import pytest
import torch
from harness import host, recording
from harness import tiny_models as tiny
from style_aligned.nodes import hooks
from style_aligned.nodes.patch import StyleAlignedPatchModel


def patched(model, **knobs):
    return host.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


class Backend(recording.Shared):
    """What the core node Model Attention Backend puts on a clone (upstream's
    ModelPatcher.set_model_optimized_attention): an override that runs one kernel for every attention and
    ignores the one it is handed. Counts its calls."""

    def __init__(self):
        from comfy.ldm.modules.attention import attention_pytorch

        self.kernel = attention_pytorch
        self.calls = 0

    def __call__(self, _func, *args, **kwargs):
        self.calls += 1
        return self.kernel(*args, **kwargs)


def with_backend(model, backend):
    clone = model.clone()
    clone.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = backend
    return clone


@pytest.mark.parametrize("kind", ["sd15", "flux", "qwen_image"])
@pytest.mark.parametrize("order", ["backend after the patch", "backend before the patch"])
def test_an_attention_backend_on_either_side_of_the_patch_keeps_it_in_effect(kind, order, caplog):
    model = tiny.tiny_model("sd15") if kind == "sd15" else tiny.TINY_DITS[kind]()
    backend = Backend()
    if order == "backend after the patch":
        style = with_backend(patched(model), backend)
    else:
        style = patched(with_backend(model, backend))
    recorder = recording.CallRecorder.install(style)
    cfg = 1.0 if kind != "sd15" else 5.0
    hooks.warn_once.cache_clear()  # said once per process: forget what earlier tests said
    with caplog.at_level(logging.WARNING, logger="style_aligned"):
        out = tiny.sample(style, kind, 3, cfg=cfg, steps=2)
    assert backend.calls, "the backend the user chose was not used"
    plain_model = with_backend(model, Backend())
    worst_ref, _ = recording.rows_against_unpatched(plain_model, recorder)
    assert worst_ref <= 1e-5, "the reference row is not the unpatched model's under that backend"
    # the targets are as aligned as with the host's default kernel (kernels differ by rounding only)
    aligned, plain = (tiny.sample(m, kind, 3, cfg=cfg, steps=2) for m in (patched(model), plain_model))
    assert (out[1:] - aligned[1:]).abs().amax() < 0.05 * (aligned[1:] - plain[1:]).abs().amax()
    said = any("used as the kernel of the shared attention" in r.getMessage() for r in caplog.records)
    assert said is (order == "backend after the patch" and kind != "sd15")  # UNets call the host's kernel anyway


def test_a_checkpoint_selected_kernel_is_the_one_the_plain_parts_run():
    """Newer hosts keep a kernel a checkpoint selected on a `ComfyAttention` module of each block and call it
    when no override is set; our override must call it too, for the reference rows and the plain blocks.
    v0.28 has no such module: one is attached here the way upstream names it."""
    from comfy.ldm.modules.attention import attention_pytorch

    calls = []

    class ComfyAttention(torch.nn.Module):
        def function(self, *args, **kwargs):
            calls.append(1)
            return attention_pytorch(*args, **kwargs)

    model = tiny.tiny_flux()
    blocks = model.get_model_object("diffusion_model").single_blocks
    for block in blocks:
        block.comfy_attention = ComfyAttention()
    try:
        style = patched(model)
        recorder = recording.CallRecorder.install(style)
        tiny.sample(style, "flux", 3, cfg=1.0, steps=2)
    finally:
        for block in blocks:
            del block.comfy_attention
    assert len(calls) >= len(recorder.calls) * len(blocks)  # at least the reference rows of every shared block
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


def _padded_text_conditioning(kind, rows):
    """Conditioning whose prompts are padded differently: Qwen-Image's encoders give a token mask (1 = text,
    0 = padding); Flux takes an additive mask over its joint sequence (as image-prompt nodes set)."""
    positive = tiny.dit_conditioning(kind, rows)
    gen = torch.Generator().manual_seed(9)
    if kind == "qwen_image":
        keep = torch.ones(rows, 8, dtype=torch.long)
        keep[:, 5:] = 0
        keep[1, 3:] = 0
        positive[0][1]["attention_mask"] = keep
    else:  # 8 text + 4 x 4 image tokens at an 8 x 8 latent
        positive[0][1].update(attention_mask=torch.randn(rows, 24, 24, generator=gen) * 0.5,
                              attention_mask_img_shape=(4, 4))
    return positive


@pytest.mark.parametrize("kind", [pytest.param("qwen_image", marks=pytest.mark.needs("Qwen-Image masked attention")),
                                  "flux"])
def test_masked_joint_attention_is_shared(kind):
    model = tiny.TINY_DITS[kind]()
    seen = []

    class MaskWatch(recording.Shared):
        def __call__(self, func, *args, **kwargs):
            if kwargs.get("mask") is not None or (len(args) > 4 and args[4] is not None):
                seen.append(1)
            return func(*args, **kwargs)

    watched = with_backend(model, MaskWatch())
    style = patched(watched)
    recorder = recording.CallRecorder.install(style)
    out = tiny.sample(style, kind, 3, cfg=1.0, steps=2, positive=_padded_text_conditioning(kind, 3))
    assert seen, "no masked attention ran: the test does not test masks"
    assert torch.isfinite(out).all()
    worst_ref, least_target = recording.rows_against_unpatched(watched, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


def test_a_model_wrapper_that_drops_ours_leaves_the_model_plain_and_says_so(caplog):
    class Dropping(recording.Shared):  # another pack's wrapper that calls the model, not the wrapper before it
        def __call__(self, apply_model, args):
            return apply_model(args["input"], args["timestep"], **args["c"])

    model = tiny.tiny_flux()
    style = patched(model)
    style.set_model_unet_function_wrapper(Dropping())
    hooks.warn_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="style_aligned"):
        out = tiny.sample(style, "flux", 3, cfg=1.0, steps=2)
    torch.testing.assert_close(out, tiny.sample(model, "flux", 3, cfg=1.0, steps=2), rtol=1e-5, atol=1e-5)
    assert any("ran without the Style Aligned model wrapper" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("cfg", [1.0, 4.0])
def test_sd3_with_one_prompt_line_on_pytorch_attention_runs_as_the_plain_model(cfg):
    """One row per chunk: nothing to share, and SD3's value tensor (already split into heads) must reach the
    kernel as the host shapes it."""
    model = with_backend(tiny.tiny_sd3(), Backend())
    out = tiny.sample(patched(model), "sd3", 1, cfg=cfg, steps=2)
    torch.testing.assert_close(out, tiny.sample(model, "sd3", 1, cfg=cfg, steps=2), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["flux", "sd3", "qwen_image"])
def test_a_single_image_token_gives_finite_images(kind):
    """A 16 px image is a 2 x 2 latent, one image token at patch size 2."""
    model = tiny.TINY_DITS[kind]()
    out = tiny.sample(patched(model), kind, 3, cfg=1.0, steps=2, size=2)
    assert torch.isfinite(out).all()
