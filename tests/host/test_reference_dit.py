"""Inverted references on flow-matching DiTs (tiny Flux and Qwen-Image) in the real upstream host:
Euler in sigma space is the flow-matching inversion; the reference rows follow it at every call."""

import pytest
import torch
from harness import host, recording
from harness import tiny_models as tiny
from style_aligned.nodes.blend import MultiRefBlend
from style_aligned.nodes.patch import StyleAlignedPatchModel
from style_aligned.nodes.reference import DDIMInvertReference


@pytest.fixture(scope="module", params=["flux", "qwen_image"])
def setup(request):
    kind = request.param
    model = tiny.TINY_DITS[kind]()
    references = torch.randn(tiny.dit_latent(kind, 2).shape, generator=torch.Generator().manual_seed(11))
    trajectories = {k: host.run_node(DDIMInvertReference, model=model, latent={"samples": references[:k]},
                                     positive=tiny.dit_conditioning(kind, 1, seed=12), steps=8)[0] for k in (1, 2)}
    return kind, model, references, trajectories


@pytest.mark.parametrize("sampler", ["euler", "dpmpp_2m"])
def test_reference_rows_follow_the_trajectory_at_every_call(setup, sampler):
    kind, model, references, trajectories = setup
    for k in (1, 2):
        inner = model.clone()
        recorder = recording.CallRecorder.install(inner)  # inside our wrapper: sees what the model sees
        style = host.run_node(StyleAlignedPatchModel, model=inner, style_reference=trajectories[k])[0]
        out = tiny.sample(style, kind, k + 2, cfg=1.0, sampler=sampler, steps=4)
        assert recorder.calls
        for call in recorder.calls:
            expected = trajectories[k].latent_at(call["timestep"])  # (k, C, H, W); Qwen-Image's rows have a frame
            torch.testing.assert_close(call["input"][:k], expected.reshape(call["input"][:k].shape), rtol=0,
                                       atol=1e-6)
        torch.testing.assert_close(out[:k], references[:k], rtol=1e-5, atol=1e-5)


def test_targets_take_the_reference(setup):
    kind, model, _, trajectories = setup
    with_reference = tiny.sample(host.run_node(StyleAlignedPatchModel, model=model,
                                               style_reference=trajectories[1])[0], kind, 3, cfg=1.0, steps=4)
    plain_sharing = tiny.sample(host.run_node(StyleAlignedPatchModel, model=model)[0], kind, 3, cfg=1.0, steps=4)
    assert (with_reference[1:] - plain_sharing[1:]).abs().amax() > 1e-3


def test_a_reference_records_its_family_and_refuses_another(setup):
    kind, model, _, trajectories = setup
    assert trajectories[1].metadata["model_family"] == {"flux": "Flux", "qwen_image": "QwenImage"}[kind]
    other = tiny.tiny_sd3()  # also 16 latent channels: only the family tells them apart
    with pytest.raises(ValueError, match=r"style_reference: was inverted with a \w+ model but is used with a SD3"):
        host.run_node(StyleAlignedPatchModel, model=other, style_reference=trajectories[1])
    style = host.run_node(StyleAlignedPatchModel, model=model, style_reference=trajectories[1])[0]
    with pytest.raises(ValueError, match="style_reference: the reference latent is 16 channels"):
        tiny.sample(style, kind, 3, cfg=1.0, size=16)


@pytest.mark.parametrize("method", ["Linear", "SLERP"])
def test_blends_of_16_channel_references_invert_and_sample(setup, method):
    kind, model, references, _ = setup
    blended = host.run_node(MultiRefBlend, method=method, latent_1={"samples": references}, weights="0.7, 0.3",
                            keep_norm=True)[0]
    assert blended["samples"].shape == references[:1].shape
    trajectory = host.run_node(DDIMInvertReference, model=model, latent=blended,
                               positive=tiny.dit_conditioning(kind, 1, seed=12), steps=4)[0]
    style = host.run_node(StyleAlignedPatchModel, model=model, style_reference=trajectory)[0]
    out = tiny.sample(style, kind, 3, cfg=1.0, steps=2)
    torch.testing.assert_close(out[:1], blended["samples"], rtol=1e-5, atol=1e-5)
