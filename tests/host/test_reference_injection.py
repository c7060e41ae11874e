"""Inverted references inside StyleAlignedPatchModel, in the real host (tiny UNets: SD1.5, and SD2 as
v-prediction where the reference rows are followed)."""

import functools

import pytest
import torch
from harness import host, recording
from harness import tiny_models as tiny
from style_aligned.nodes.patch import StyleAlignedPatchModel
from style_aligned.nodes.reference import DDIMInvertReference

SAMPLERS = ["euler", "euler_ancestral", "dpmpp_2m", "ddim"]


KINDS = ["sd15", "sd2"]  # sd2: SD 2.x as v-prediction


@functools.cache
def inverted(kind):
    """A tiny model of `kind`, two reference latents, and their trajectories inverted as 1 and as 2 references."""
    model = tiny.tiny_model(kind)
    gen = torch.Generator().manual_seed(11)
    references = torch.randn(2, 4, 8, 8, generator=gen)
    trajectories = {k: host.run_node(DDIMInvertReference, model=model, latent={"samples": references[:k]},
                                   positive=tiny.conditioning(kind, 1, seed=12), steps=8)[0] for k in (1, 2)}
    return model, references, trajectories


@pytest.fixture(scope="module")
def setup():
    return inverted("sd15")


def _recorded_run(model, trajectory, batch, sampler="euler", split=False, weights="", positive=None, negative=None,
                  kind="sd15", **knobs):
    inner = model.clone()
    recorder = recording.CallRecorder.install(inner)  # inside our wrapper: sees what the UNet sees
    style = host.run_node(StyleAlignedPatchModel, model=inner, style_reference=trajectory,
                        reference_weights=weights, **knobs)[0]
    if split:
        with recording.forced_split(model):
            out = tiny.sample(style, kind, batch, sampler=sampler, steps=4, positive=positive, negative=negative)
    else:
        out = tiny.sample(style, kind, batch, sampler=sampler, steps=4, positive=positive, negative=negative)
    return out, recorder.calls


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("split", [False, True], ids=["batched", "split"])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_reference_rows_follow_the_trajectory_at_every_call(kind, sampler, split):
    model, references, trajectories = inverted(kind)
    for k in (1, 2):
        trajectory = trajectories[k]
        out, calls = _recorded_run(model, trajectory, 4, sampler, split, kind=kind)
        assert calls and {len(c["cond_or_uncond"]) for c in calls} == ({1} if split else {2})
        for call in calls:
            rows = call["input"].shape[0] // len(call["cond_or_uncond"])
            expected = trajectory.latent_at(call["timestep"])
            for chunk in range(len(call["cond_or_uncond"])):
                got = call["input"][chunk * rows:chunk * rows + k]
                torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
        # the reference rows end as the references themselves (back in VAE latent space)
        torch.testing.assert_close(out[:k], references[:k], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_targets_take_the_reference(kind):
    model, _, trajectories = inverted(kind)
    with_reference, _ = _recorded_run(model, trajectories[1], 4, kind=kind)
    plain_sharing = tiny.sample(host.run_node(StyleAlignedPatchModel, model=model)[0], kind, 4, steps=4)
    assert (with_reference[1:] - plain_sharing[1:]).abs().amax() > 1e-3


def test_reference_weights_change_the_targets(setup):
    model, _, trajectories = setup
    even, _ = _recorded_run(model, trajectories[2], 4, weights="1, 1")
    equal_default, _ = _recorded_run(model, trajectories[2], 4)
    skewed, _ = _recorded_run(model, trajectories[2], 4, weights="0.9, 0.1")
    torch.testing.assert_close(even, equal_default)
    assert (skewed[2:] - even[2:]).abs().amax() > 1e-4


@pytest.mark.parametrize("use_reference", [False, True], ids=["prompt reference", "inverted reference"])
def test_reference_rows_get_no_controlnet_residual(setup, use_reference):
    model, _, trajectories = setup
    trajectory = trajectories[1] if use_reference else None
    positive, negative = tiny.conditioning("sd15", 3, seed=1), tiny.conditioning("sd15", 1, seed=2)
    # as the ControlNet workflow applies it: Apply ControlNet on the positive and the negative
    controlled = tiny.with_control(positive, negative, tiny.tiny_controlnet())
    _, plain_calls = _recorded_run(model, trajectory, 3, positive=positive, negative=negative)
    out_controlled, control_calls = _recorded_run(model, trajectory, 3, positive=controlled[0],
                                                  negative=controlled[1])
    assert len(plain_calls) == len(control_calls)
    target_changed = 0.0
    for plain, control in zip(plain_calls, control_calls, strict=True):
        rows = plain["output"].shape[0] // len(plain["cond_or_uncond"])
        for chunk in range(len(plain["cond_or_uncond"])):
            ref = chunk * rows
            torch.testing.assert_close(control["output"][ref], plain["output"][ref], rtol=1e-5, atol=1e-5)
            target_changed = max(target_changed, (control["output"][ref + 1:ref + rows]
                                                  - plain["output"][ref + 1:ref + rows]).abs().amax().item())
    assert target_changed > 1e-4, "the ControlNet should still steer the targets"


def test_reference_of_another_size_or_model_is_rejected(setup):
    model, _, trajectories = setup
    style = host.run_node(StyleAlignedPatchModel, model=model, style_reference=trajectories[1])[0]
    with pytest.raises(ValueError, match="style_reference: the reference latent is 4 channels x 8x8"):
        tiny.sample(style, "sd15", 3, size=16)
    with pytest.raises(ValueError, match="style_reference: was inverted with a SD15 model but is used with a SDXL"):
        host.run_node(StyleAlignedPatchModel, model=tiny.tiny_model("sdxl"), style_reference=trajectories[1])
    with pytest.raises(ValueError, match="reference_weights: 3 weight"):
        host.run_node(StyleAlignedPatchModel, model=model, style_reference=trajectories[2], reference_weights="1,2,3")
    with pytest.raises(ValueError, match="reference_weights: set, but no style_reference"):
        host.run_node(StyleAlignedPatchModel, model=model, reference_weights="1,2")


def test_saved_and_loaded_reference_generates_the_same_images(setup, tmp_path):
    from style_aligned.nodes.reference import FOLDER, LoadStyleReference, SaveStyleReference

    model, _, trajectories = setup
    with host.model_folder(FOLDER, tmp_path):
        name = host.run_node(SaveStyleReference, style_reference=trajectories[2], filename_prefix="pair")[0]
        loaded = host.run_node(LoadStyleReference, model=model, reference=name)[0]
    in_memory, _ = _recorded_run(model, trajectories[2], 4, weights="0.7, 0.3")
    from_file, _ = _recorded_run(model, loaded, 4, weights="0.7, 0.3")
    assert torch.equal(in_memory, from_file)


def test_works_with_the_stock_sampler_custom_node(setup):
    """SamplerCustom (sampler object + sigmas) instead of KSampler: reference rows stay on track."""
    custom = host.extra_nodes("nodes_custom_sampler")
    model, references, trajectories = setup
    inner = model.clone()
    recorder = recording.CallRecorder.install(inner)
    style = host.run_node(StyleAlignedPatchModel, model=inner, style_reference=trajectories[1])[0]
    sampler = custom.KSamplerSelect().get_sampler("dpmpp_2m")[0]
    sigmas = custom.BasicScheduler().get_sigmas(style, "karras", 5, 1.0)[0]
    latent = {"samples": torch.zeros(3, 4, 8, 8)}
    out = custom.SamplerCustom().sample(style, True, 3, 4.0, tiny.conditioning("sd15", 3),
                                        tiny.conditioning("sd15", 1, seed=2), sampler, sigmas, latent)[0]["samples"]
    assert len(recorder.calls) == 5
    for call in recorder.calls:
        expected = trajectories[1].latent_at(call["timestep"])
        torch.testing.assert_close(call["input"][0:1], expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(call["input"][3:4], expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(out[:1], references[:1], rtol=1e-5, atol=1e-5)


def test_with_an_offset_the_reference_is_held_less_noisy_then_follows_the_schedule(setup):
    """The original transfer demo starts the reference 5 of 50 steps less noisy than the targets and
    holds it there; with reference_offset 0.25 on an 8-step trajectory the hold is 2 steps below its top."""
    model, _, trajectories = setup
    trajectory = trajectories[1]
    hold = float(trajectory.sigmas[trajectory.steps - 2])
    _, calls = _recorded_run(model, trajectory, 3, reference_offset=0.25)
    phases = set()
    for call in calls:
        sigma = float(call["timestep"][0])
        phases.add(sigma > hold)
        expected = trajectory.latent_at(min(sigma, hold))
        rows = call["input"].shape[0] // len(call["cond_or_uncond"])
        for chunk in range(len(call["cond_or_uncond"])):
            torch.testing.assert_close(call["input"][chunk * rows:chunk * rows + 1], expected, rtol=0, atol=1e-6)
    assert phases == {True, False}  # held during the first steps, then at the current sigma


@pytest.mark.parametrize("offset, message", [
    (1.0, "reference_offset must be a finite number between 0.0 and 0.95"),
    (float("nan"), "reference_offset must be a finite number"),
    (0.95, "would hold the reference at its clean latent: this reference has 8 steps, so use at most 0.875"),
])
def test_bad_offsets_name_the_input(setup, offset, message):
    model, _, trajectories = setup
    with pytest.raises(ValueError, match=message):
        host.run_node(StyleAlignedPatchModel, model=model, style_reference=trajectories[1], reference_offset=offset)
    with pytest.raises(ValueError, match="reference_offset: set, but no style_reference"):
        host.run_node(StyleAlignedPatchModel, model=model, reference_offset=0.1)
