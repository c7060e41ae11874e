"""StyleAlignedBatchPrompts with a real host CLIP and sampler."""

import pytest
import torch
from harness import host, recording
from harness import tiny_models as tiny
from style_aligned.nodes.batch_prompts import StyleAlignedBatchPrompts
from style_aligned.nodes.patch import StyleAlignedPatchModel

PROMPTS = "a house\na cat\n" + " ".join(["a very long prompt about a bicycle"] * 20) + "\na mountain lake\na teapot"


SHORT_PROMPTS = "a house\na cat\na bicycle\na mountain lake\na teapot"


def batch(clip, prompts=PROMPTS, **inputs):
    return host.run_node(StyleAlignedBatchPrompts, clip=clip, prompts=prompts, width=64, height=64,
                         **inputs)[:3]  # positive, latent, prompts


class ContextRecorder(recording.Shared):
    """attn2 patch that records the cross-attention context each latent row sees."""

    def __init__(self):
        self.contexts = []

    def __call__(self, n, context, value, extra_options):
        self.contexts.append((list(extra_options["cond_or_uncond"]), context.clone()))
        return n, context, value


@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_each_prompt_row_reaches_its_own_latent_row(kind):
    clip, model = tiny.tiny_clip(kind), tiny.tiny_model(kind)
    positive, latent, prompts = batch(clip, style="ink drawing")
    cond = positive[0][0]
    assert cond.shape[0] == latent["samples"].shape[0] == 5
    assert cond.shape[1] == 154  # the long prompt takes two 77-token chunks; the others repeat
    assert prompts.splitlines()[0] == "a house"
    if kind == "sdxl":
        assert positive[0][1]["pooled_output"].shape[0] == 5
    recorder = ContextRecorder()
    watched = model.clone()
    watched.set_model_attn2_patch(recorder)
    negative = tiny.conditioning(kind, 1, seed=9)
    tiny.sample(watched, kind, 5, positive=positive, negative=negative, size=8)
    seen = 0
    for cond_or_uncond, context in recorder.contexts:
        rows = context.shape[0] // len(cond_or_uncond)
        chunk = cond_or_uncond.index(0)
        got = context[chunk * rows:(chunk + 1) * rows]
        torch.testing.assert_close(got, cond.repeat(1, got.shape[1] // cond.shape[1], 1))
        seen += 1
    assert seen


def test_long_prompts_of_different_lengths_stay_bounded_and_sample(tmp_path):
    """Four prompts of 300, 375, 450 and 525 times "cat" (4..7 chunks of 77 tokens) were repeated to
    their lcm, 32340 tokens a row (a 500-word list OOM-killed the host). Now every row is as long as
    the longest prompt: its own tokens, then the empty prompt's."""
    clip, model = tiny.tiny_clip("sd15"), tiny.tiny_model("sd15")
    counts = (300, 375, 450, 525)
    prompts = "\n".join(" ".join(["cat"] * n) for n in counts)
    positive, latent, _ = batch(clip, prompts=prompts, style="")
    own = [clip.encode_from_tokens(clip.tokenize(" ".join(["cat"] * n))) for n in counts]
    empty = clip.encode_from_tokens(clip.tokenize(""))
    cond = positive[0][0]
    assert [c.shape[1] for c in own] == [308, 385, 462, 539]
    assert cond.shape == (4, 539, tiny.CONTEXT_DIM)
    for row, alone in zip(cond, own, strict=True):
        n = alone.shape[1]
        torch.testing.assert_close(row[:n], alone[0])
        torch.testing.assert_close(row[n:], empty[0].repeat((539 - n) // 77, 1))
    negative = tiny.conditioning("sd15", 1, seed=9)
    out = tiny.sample(model, "sd15", 4, positive=positive, negative=negative, size=8, steps=1)
    assert torch.isfinite(out).all()


def _ksample(model, positive, latent, seed=7):
    import nodes

    negative = tiny.conditioning("sd15", 1, seed=9)
    return nodes.KSampler().sample(model, seed, 3, 4.0, "euler", "normal", positive, negative, latent)[0]["samples"]


def test_windows_share_the_reference_row_and_reproduce_the_full_set():
    clip, model = tiny.tiny_clip("sd15"), tiny.tiny_model("sd15")
    style = host.run_node(StyleAlignedPatchModel, model=model)[0]
    full = _ksample(style, *batch(clip, SHORT_PROMPTS)[:2])
    first = _ksample(style, *batch(clip, SHORT_PROMPTS, window_start=0, window_size=2)[:2])
    second = _ksample(style, *batch(clip, SHORT_PROMPTS, window_start=2, window_size=2)[:2])
    assert torch.equal(first[0], second[0])  # same batch shape: bit-identical reference
    # targets attend only to themselves and the reference, so windows give the images of the
    # full set (to float tolerance: batch size changes the kernels' summation order)
    scale = full.abs().amax().item()
    assert (torch.cat([first, second[1:]]) - full).abs().amax().item() <= 1e-5 * scale


def test_latent_of_the_wrong_size_is_rejected():
    clip = tiny.tiny_clip("sd15")
    with pytest.raises(ValueError, match="latent has 3 rows but this batch has 5 prompts"):
        batch(clip, latent={"samples": torch.zeros(3, 4, 8, 8)})


def test_empty_prompts_and_bad_window_name_the_input():
    clip = tiny.tiny_clip("sd15")
    with pytest.raises(ValueError, match="prompts is empty"):
        host.run_node(StyleAlignedBatchPrompts, clip=clip, prompts="\n \n")
    with pytest.raises(ValueError, match="window_start"):
        batch(clip, window_start=9)


def test_inverted_reference_rows_come_first_and_stay_the_reference():
    from style_aligned.nodes.reference import DDIMInvertReference

    clip, model = tiny.tiny_clip("sd15"), tiny.tiny_model("sd15")
    references = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(5))
    reference_prompt = batch(clip, SHORT_PROMPTS, window_size=0)[0]
    trajectory = host.run_node(DDIMInvertReference, model=model, latent={"samples": references},
                             positive=[[reference_prompt[0][0][:1], {}]], steps=6)[0]
    positive, latent, prompts, _ = host.run_node(StyleAlignedBatchPrompts, clip=clip, prompts=SHORT_PROMPTS,
                                                 width=512, height=512, window_start=1, window_size=2,
                                                 style_reference=trajectory)
    assert latent["samples"].shape == (4, 4, 8, 8)  # size from the reference, not width/height
    assert latent["batch_index"] == [0, 1, 3, 4]
    assert prompts.splitlines() == ["a house", "a house", "a bicycle", "a mountain lake"]
    torch.testing.assert_close(positive[0][0][0], positive[0][0][1])
    style = host.run_node(StyleAlignedPatchModel, model=model, style_reference=trajectory)[0]
    out = _ksample(style, positive, latent)
    torch.testing.assert_close(out[:2], references, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("inputs, note", [
    ({"prompts": "only a reference", "window_start": 3}, "window_start 3 is ignored"),
    ({"prompts": "only a reference"}, "the batch has no target image to align"),
    ({"width": 1020}, "width 1020 is not a multiple of 8: the images will be 1016 px"),
    ({"height": 100}, "height 100 is not a multiple of 8: the images will be 96 px"),
    ({}, ""),
])
def test_ignored_or_changed_settings_say_so_on_the_node(inputs, note):
    clip = tiny.tiny_clip("sd15")
    values = {"prompts": SHORT_PROMPTS, "width": 64, "height": 64, **inputs}
    (positive, latent, *_), text = host.run_node_shown(StyleAlignedBatchPrompts, clip=clip, **values)
    assert (note in text) if note else text == ""
    assert latent["samples"].shape[-1] == values["width"] // 8
