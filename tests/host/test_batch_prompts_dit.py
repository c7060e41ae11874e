"""StyleAlignedBatchPrompts with the host's own DiT text encoders (Flux, SD3, Qwen-Image), tiny and random."""

import functools

import pytest
import torch
from harness import host, tiny_dit_text
from harness import tiny_models as tiny
from style_aligned.nodes.batch_prompts import StyleAlignedBatchPrompts, text_encoder_family

KINDS = ("flux", "flux_schnell", "sd3", "qwen_image")
FAMILY = {"flux": "Flux (dev, schnell, Chroma)", "flux_schnell": "Flux (dev, schnell, Chroma)", "sd3": "SD3 / SD3.5",
          "qwen_image": "Qwen-Image"}
# one word each: the same token count for every encoder, so the rows need no padding
PROMPTS = "a house\na cat\na bicycle\na lake"


@functools.cache
def clip_of(kind):
    return tiny_dit_text.tiny_dit_clip(kind, seed=0)


@functools.cache
def model_of(kind):
    return tiny.TINY_DITS[kind](0)


@pytest.fixture(autouse=True, scope="module")
def _release_models():
    """The cached models go with the module's tests, not at interpreter exit (when the host is half gone)."""
    yield
    clip_of.cache_clear()
    model_of.cache_clear()


def batch(clip, prompts=PROMPTS, **inputs):
    return host.run_node(StyleAlignedBatchPrompts, **{"clip": clip, "prompts": prompts, "style": "", "width": 64,
                                                       "height": 64, **inputs})[:3]  # positive, latent, prompts


def host_encode(clip, text):
    """The host's own CLIPTextEncode of one prompt."""
    import nodes

    return nodes.CLIPTextEncode().encode(clip, text)[0]


def sample(model, positive, negative, latent, cfg, steps=2, seed=3):
    """As the host's KSampler: an empty latent is fitted to the model (Qwen-Image's frame axis), then sampled."""
    import comfy.sample

    samples = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    noise = comfy.sample.prepare_noise(samples, seed, latent.get("batch_index"))
    return comfy.sample.sample(model, noise, steps, cfg, "euler", "simple", positive, negative, samples,
                               disable_pbar=True, seed=seed)


@pytest.mark.parametrize("kind", KINDS)
def test_each_row_is_the_hosts_own_encoding_of_its_prompt(kind):
    clip = clip_of(kind)
    assert text_encoder_family(clip).name == FAMILY[kind]
    positive, latent, prompts = batch(clip)
    assert len(positive) == 1
    cond, extra = positive[0]
    lines = PROMPTS.splitlines()
    assert prompts.splitlines() == lines
    assert cond.shape[0] == latent["samples"].shape[0] == len(lines)
    assert cond.shape[-1] == tiny.CONTEXT_DIM
    for row, line in enumerate(lines):
        [[alone, alone_extra]] = host_encode(clip, line)
        assert alone.shape[0] == 1
        torch.testing.assert_close(cond[row:row + 1], alone, rtol=0, atol=1e-6)
        if alone_extra.get("pooled_output") is not None:
            torch.testing.assert_close(extra["pooled_output"][row:row + 1], alone_extra["pooled_output"],
                                       rtol=0, atol=1e-6)
        assert set(alone_extra) - {"pooled_output"} <= set(extra)
    # rows differ: each prompt reaches its own row
    assert not torch.allclose(cond[0], cond[1])


@pytest.mark.parametrize("kind", KINDS)
def test_pooled_rows_where_the_family_has_them(kind):
    positive = batch(clip_of(kind))[0]
    extra = positive[0][1]
    if kind == "qwen_image":  # none, as the host's own encode gives it (a None that older Flux-derived models read)
        assert extra["pooled_output"] is None
    else:
        assert extra["pooled_output"].shape == (4, tiny.CONTEXT_DIM)
        assert not torch.allclose(extra["pooled_output"][0], extra["pooled_output"][1])


def test_prompts_of_different_lengths_pad_with_the_empty_prompt():
    """Qwen-Image's encoder does not pad: a longer prompt has more tokens; the shorter rows keep their own
    tokens first."""
    clip = clip_of("qwen_image")
    prompts = "a house\na very tall house with many small windows and a red door"
    cond = batch(clip, prompts=prompts)[0][0][0]
    short, long = (host_encode(clip, line)[0][0] for line in prompts.splitlines())
    assert short.shape[1] < long.shape[1] == cond.shape[1]
    torch.testing.assert_close(cond[0, :short.shape[1]], short[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(cond[1], long[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_latent_fits_the_family(kind):
    latent = batch(clip_of(kind), width=96, height=64)[1]
    assert latent["samples"].shape == (4, 16, 8, 12)  # as EmptySD3LatentImage, Qwen-Image's too
    assert latent["batch_index"] == [0, 1, 2, 3]


@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_sd_text_encoders_keep_four_channels(kind):
    clip = tiny.tiny_clip(kind)
    assert text_encoder_family(clip) is None
    positive, latent, _ = batch(clip)
    assert latent["samples"].shape == (4, 4, 8, 8)
    assert "guidance" not in positive[0][1]


@pytest.mark.parametrize("kind", KINDS)
def test_size_from_a_given_latent(kind):
    """A given latent sets the size, Qwen-Image's 5-D latents (B, 16, 1, H, W) included."""
    given = tiny.dit_latent(kind, 4, size=6)
    positive, latent, _ = batch(clip_of(kind), latent={"samples": given})
    assert latent["samples"] is given
    assert positive[0][1]["width"] == positive[0][1]["height"] == 48


def test_flux_guidance_is_in_the_conditioning_and_steers_sampling():
    import comfy_extras.nodes_flux as nodes_flux

    clip, model = clip_of("flux"), model_of("flux")
    positive, latent, _ = batch(clip, guidance=1.0)
    assert positive[0][1]["guidance"] == 1.0
    assert "guidance" not in batch(clip_of("sd3"))[0][0][1]
    negative = host_encode(clip, "")
    low = sample(model, positive, negative, latent, cfg=1.0)
    high = sample(model, batch(clip, guidance=6.0)[0], negative, latent, cfg=1.0)
    assert torch.isfinite(low).all() and torch.isfinite(high).all()
    assert (low - high).abs().amax() > 1e-4  # the guidance embedding reaches the model
    chained = nodes_flux.FluxGuidance.execute(positive, 6.0)[0]  # a FluxGuidance node after ours
    assert chained[0][1]["guidance"] == 6.0
    torch.testing.assert_close(sample(model, chained, negative, latent, cfg=1.0), high, rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_a_batch_samples_on_the_tiny_model(kind):
    clip, model = clip_of(kind), model_of(kind)
    positive, latent, _ = batch(clip)
    negative = host_encode(clip, "")
    out = sample(model, positive, negative, latent, cfg=1.0 if kind.startswith("flux") else 3.0)
    expected = (4, 16, 1, 8, 8) if kind == "qwen_image" else (4, 16, 8, 8)
    assert out.shape == expected
    assert torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1])


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_checkpoint_workflow_decodes(kind):
    """The tiny loader's DiT kinds through the host's own KSampler and VAEDecode."""
    from harness.tiny_pack import TinyCheckpointLoader

    import nodes

    model, clip, vae = TinyCheckpointLoader().load(kind, 0)
    assert text_encoder_family(clip).name == FAMILY[kind]
    positive, latent, _ = batch(clip, prompts="a house\na cat")
    negative = host_encode(clip, "")
    cfg = 1.0 if kind.startswith("flux") else 2.0
    samples = nodes.KSampler().sample(model, 1, 2, cfg, "euler", "simple", positive, negative, latent)[0]
    images = nodes.VAEDecode().decode(vae, samples)[0]
    assert images.shape == (2, 64, 64, 3)
    assert torch.isfinite(images).all()
