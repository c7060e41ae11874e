"""DDIMInvertReference, Save/Load Style Reference in the real host with tiny SD1.5/SDXL UNets."""

import os

import comfy.samplers
import pytest
import torch
from harness import host, recording
from harness import tiny_models as tiny
from style_aligned.core.reference.trajectory import Trajectory
from style_aligned.nodes.model_family import STYLE_REFERENCE, check_reference_for_model
from style_aligned.nodes.reference import FOLDER, DDIMInvertReference, LoadStyleReference, SaveStyleReference

STEPS = 3


@pytest.fixture(scope="module")
def models():
    return {kind: tiny.tiny_model(kind) for kind in ("sd15", "sdxl")}


def reference_latent(refs, seed=0, channels=4, size=8):
    return {"samples": torch.randn(refs, channels, size, size, generator=torch.Generator().manual_seed(seed))}


def invert(model, kind, refs=2, **inputs):
    inputs.setdefault("latent", reference_latent(refs))
    inputs.setdefault("positive", tiny.conditioning(kind, 1))
    return host.run_node(DDIMInvertReference, model=model, steps=STEPS, **inputs)[0]


@pytest.fixture()
def reference_folder(tmp_path):
    """models/style_references pointed at a temporary folder for the test (first in the search list)."""
    with host.model_folder(FOLDER, tmp_path):
        yield tmp_path


@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_inversion_runs_through_the_host_and_stores_sampler_space_latents(models, kind):
    model = models[kind].clone()
    recorder = recording.CallRecorder.install(model)
    latent = reference_latent(2)
    traj = invert(model, kind, latent=latent, positive=tiny.conditioning(kind, 2))

    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "normal", STEPS)
    assert torch.equal(traj.sigmas, sigmas.flip(0).double())
    assert traj.latents.shape == (STEPS + 1, 2, 4, 8, 8) and traj.latents.dtype == torch.float32
    # stored in the sampler's space: the clean end is process_latent_in of the VAE latent
    assert torch.equal(traj.clean, model.model.process_latent_in(latent["samples"]))
    assert not torch.allclose(traj.clean, latent["samples"])  # (the SD scale factor is not 1)
    assert traj.metadata["model_family"] == ("SDXL" if kind == "sdxl" else "SD15")
    assert traj.metadata["ref_count"] == "2" and traj.metadata["steps"] == str(STEPS)

    # DDIM inversion: every UNet call is at the next sigma, on the stored latent carried to it with the
    # same network input (the host's c_in = 1 / sqrt(1 + sigma^2) for these eps models)
    calls = recorder.calls
    assert len(calls) == STEPS and all(c["cond_or_uncond"] == [0] for c in calls)  # cfg 1: positive only
    for i, call in enumerate(calls):
        sigma, sigma_next = float(traj.sigmas[i]), float(traj.sigmas[i + 1])
        x_eval = traj.latents[i] * ((1 + sigma_next**2) / (1 + sigma**2)) ** 0.5
        torch.testing.assert_close(call["input"], x_eval)
        assert float(call["timestep"][0]) == pytest.approx(sigma_next, rel=1e-6)
        # the DDIM step with the host's denoised output: x_next = x + h (x_eval - D) / sigma_next
        expected = traj.latents[i] + (sigma_next - sigma) * (call["input"] - call["output"]) / sigma_next
        assert torch.allclose(traj.latents[i + 1], expected, rtol=1e-5, atol=1e-5)
    if kind == "sdxl":  # the host encoded the pooled output into the ADM vector
        assert calls[0]["c"]["y"].shape == (2, tiny.POOLED_DIM + tiny.SDXL_SIZE_EMBEDDING)


def test_inversion_is_deterministic_and_follows_its_inputs(models):
    model = models["sd15"]
    first, second = invert(model, "sd15"), invert(model, "sd15")
    assert torch.equal(first.latents, second.latents)
    other_prompt = invert(model, "sd15", positive=tiny.conditioning("sd15", 1, seed=9))
    assert not torch.allclose(other_prompt.latents[-1], first.latents[-1])
    assert torch.equal(other_prompt.clean, first.clean)  # the clean end is the input either way


def test_guided_inversion_uses_both_conditionings(models):
    model = models["sd15"].clone()
    recorder = recording.CallRecorder.install(model)
    plain = invert(model, "sd15", refs=1)
    recorder.calls.clear()
    guided = invert(model, "sd15", refs=1, cfg=2.0, negative=tiny.conditioning("sd15", 1, seed=2))
    assert {u for c in recorder.calls for u in c["cond_or_uncond"]} == {0, 1}
    assert not torch.allclose(guided.latents[-1], plain.latents[-1])
    unconnected = invert(model, "sd15", refs=1, cfg=2.0)  # negative defaults to an all-zero conditioning
    assert torch.isfinite(unconnected.latents).all() and not torch.allclose(unconnected.latents[-1], guided.latents[-1])


def test_refinement_adds_model_calls_per_step(models):
    model = models["sd15"].clone()
    recorder = recording.CallRecorder.install(model)
    traj = invert(model, "sd15", refs=1, refinement=2)
    assert len(recorder.calls) == 3 * STEPS and traj.metadata["iterations"] == "3"


@pytest.mark.parametrize("inputs,match", [
    ({"latent": reference_latent(1, channels=16)}, "latent: has 16 channels but this SD15 model uses 4"),
    ({"latent": {"samples": torch.zeros(1, 4, 2, 8, 8)}}, "latent: expected an image latent"),
    ({"positive": tiny.conditioning("sd15", 3)}, "positive: has 3 prompt rows for 2 reference images"),
    ({"negative": tiny.conditioning("sd15", 3), "cfg": 2.0}, "negative: has 3 prompt rows"),
    ({"scheduler": "linear"}, "scheduler: 'linear' is not one of"),
])
def test_bad_inversion_inputs_are_named(models, inputs, match):
    with pytest.raises(ValueError, match=match):
        invert(models["sd15"], "sd15", **inputs)


def test_save_load_round_trip_is_bit_identical(models, reference_folder):
    model = models["sd15"]
    traj = invert(model, "sd15")
    name = host.run_node(SaveStyleReference, style_reference=traj, filename_prefix="watercolor/style")[0]
    assert name == "watercolor/style_00001.safetensors"
    assert (reference_folder / name).is_file() and not list(reference_folder.rglob("*.partial"))
    assert name in host.choices(LoadStyleReference, "reference")
    assert LoadStyleReference.fingerprint_inputs(model, name) != ""

    loaded = host.run_node(LoadStyleReference, model=model, reference=name)[0]
    assert isinstance(loaded, Trajectory)
    assert torch.equal(loaded.latents, traj.latents) and torch.equal(loaded.sigmas, traj.sigmas)
    assert loaded.latents.dtype == traj.latents.dtype and loaded.metadata == traj.metadata
    for sigma in (0.0, float(traj.sigmas[2]), 1.2345):
        assert torch.equal(loaded.latent_at(sigma), traj.latent_at(sigma))
    # a second save does not overwrite the first
    again = host.run_node(SaveStyleReference, style_reference=traj, filename_prefix="watercolor/style")[0]
    assert again == "watercolor/style_00002.safetensors"


def test_loading_checks_model_family_and_file(models, reference_folder):
    from safetensors.torch import save_file

    name = host.run_node(SaveStyleReference, style_reference=invert(models["sd15"], "sd15"),
                       filename_prefix="sd15")[0]
    with pytest.raises(ValueError, match="inverted with a SD15 model but is used with a SDXL model"):
        host.run_node(LoadStyleReference, model=models["sdxl"], reference=name)

    (reference_folder / "corrupt.safetensors").write_bytes(os.urandom(64))
    with pytest.raises(ValueError, match="corrupt.safetensors is not a readable safetensors file"):
        host.run_node(LoadStyleReference, model=models["sd15"], reference="corrupt.safetensors")

    save_file({"weight": torch.zeros(3)}, str(reference_folder / "lora.safetensors"))  # foreign: no metadata
    with pytest.raises(ValueError, match="not a style reference"):
        host.run_node(LoadStyleReference, model=models["sd15"], reference="lora.safetensors")

    tensors, metadata = invert(models["sd15"], "sd15").to_dict()
    tensors["latents"] = tensors["latents"][:, :1].contiguous()  # tampered: shape no longer matches
    save_file(tensors, str(reference_folder / "tampered.safetensors"), metadata=metadata)
    with pytest.raises(ValueError, match="the file is damaged"):
        host.run_node(LoadStyleReference, model=models["sd15"], reference="tampered.safetensors")

    with pytest.raises(ValueError, match="not found"):
        host.run_node(LoadStyleReference, model=models["sd15"], reference="missing.safetensors")
    with pytest.raises(ValueError, match="not found"):
        host.run_node(LoadStyleReference, model=models["sd15"], reference="../outside.safetensors")
    with pytest.raises(ValueError, match="filename_prefix"):
        host.run_node(SaveStyleReference, style_reference=invert(models["sd15"], "sd15"), filename_prefix="../x")


@pytest.mark.parametrize("family", [None, "", "  "])
def test_a_reference_that_does_not_say_its_model_family_is_refused(models, reference_folder, family):
    """It loaded for any family and generated without a word. Every file this pack saved records the family
    (DDIM Invert Reference has written it since Save Style Reference first existed), so refusing breaks none."""
    from safetensors.torch import save_file
    from style_aligned.nodes.patch import StyleAlignedPatchModel

    traj = invert(models["sd15"], "sd15")
    tensors, metadata = traj.to_dict()
    metadata.pop("model_family")
    if family is not None:
        metadata["model_family"] = family
    save_file(tensors, str(reference_folder / "familyless.safetensors"), metadata=metadata)
    for kind in ("sd15", "sdxl"):  # the same 4 latent channels: only the family tells them apart
        with pytest.raises(ValueError, match=r"reference 'familyless.safetensors': records no model_family .* "
                                             r"invert the reference image again with DDIM Invert Reference"):
            host.run_node(LoadStyleReference, model=models[kind], reference="familyless.safetensors")
    in_memory = Trajectory(traj.sigmas, traj.latents, {k: v for k, v in traj.metadata.items() if k != "model_family"})
    with pytest.raises(ValueError, match="style_reference: records no model_family"):
        host.run_node(StyleAlignedPatchModel, model=models["sd15"], style_reference=in_memory)


def test_node_contract():
    for node in (DDIMInvertReference, SaveStyleReference, LoadStyleReference):
        assert node.CATEGORY == "style_aligned/reference" and node.DESCRIPTION
    from style_aligned.nodes.blend import MultiRefBlend

    for node in (DDIMInvertReference, SaveStyleReference, LoadStyleReference, MultiRefBlend):
        assert len(node.OUTPUT_TOOLTIPS) == len(node.RETURN_TYPES) == len(node.RETURN_NAMES)
        for section in (node.INPUT_TYPES().get(part, {}) for part in ("required", "optional")):
            for name, spec in section.items():
                assert spec[1].get("tooltip"), name
    assert MultiRefBlend.CATEGORY == "style_aligned/blend" and MultiRefBlend.DESCRIPTION
    assert list(DDIMInvertReference.RETURN_TYPES) == [STYLE_REFERENCE]
    from harness import pack

    for name in ("DDIMInvertReference", "SaveStyleReference", "LoadStyleReference", "MultiRefBlend"):
        assert name in pack.node_classes() and name in pack.display_names()
    defaults = host.node_defaults(DDIMInvertReference)
    assert defaults["steps"] == 50 and defaults["cfg"] == 1.0 and defaults["refinement"] == 0


def test_check_reference_for_model(models):
    traj = invert(models["sdxl"], "sdxl", refs=1)
    check_reference_for_model(traj, models["sdxl"])
    with pytest.raises(ValueError, match="style_reference: was inverted with a SDXL model"):
        check_reference_for_model(traj, models["sd15"])
    with pytest.raises(ValueError, match="style_reference: expected a STYLE_REFERENCE"):
        check_reference_for_model({"samples": torch.zeros(1)}, models["sd15"])


# ---------------------------------------------------------------- MultiRefBlend node

def blend_node(**inputs):
    from style_aligned.nodes.blend import MultiRefBlend

    return host.run_node(MultiRefBlend, **inputs)[0]["samples"]


def test_blend_node_collects_rows_of_all_inputs_in_order():
    from style_aligned.core.reference.blend import blend_slerp

    a, b, c = (reference_latent(1, seed=s)["samples"] + 0.5 for s in (1, 2, 3))
    out = blend_node(latent_1={"samples": torch.cat([a, b])}, latent_3={"samples": c}, weights="1, 2; 3")
    assert out.shape == (1, 4, 8, 8)
    assert torch.allclose(out, blend_slerp(torch.cat([a, b, c]), [1, 2, 3], keep_norm=True), atol=1e-6)
    # equal weights by default, Linear with keep_norm off is the plain mean
    plain = blend_node(method="Linear", keep_norm=False, latent_1={"samples": a}, latent_2={"samples": b})
    assert torch.allclose(plain, (a + b) / 2, atol=1e-6)
    # and with one reference weighted 1 it is that reference
    only_b = blend_node(latent_1={"samples": a}, latent_2={"samples": b}, latent_4={"samples": c}, weights="0,1,0")
    assert torch.allclose(only_b, b, atol=1e-6)


@pytest.mark.parametrize("inputs,match", [
    ({"weights": "0.5"}, r"weights: 1 weight\(s\) given for 2 reference"),
    ({"weights": "0.5, abc"}, "weights: 'abc' is not a number"),
    ({"weights": "0, 0"}, "weights: the weights sum to zero"),
    ({"latent_2": {"samples": torch.zeros(1, 4, 8, 16)}}, r"latent_2: latent shape \(4, 8, 16\)"),
])
def test_blend_node_errors_name_the_input(inputs, match):
    inputs.setdefault("latent_2", reference_latent(1, seed=2))
    with pytest.raises(ValueError, match=match):
        blend_node(latent_1=reference_latent(1, seed=1), **inputs)


def test_blend_node_keep_apart_gives_the_references_as_k_rows_that_invert_together(models):
    """'Keep apart (K references)' blends nothing: the rows of latent_1, latent_2, ... in order, as Batch
    Latents (LatentBatch, deprecated on ComfyUI v0.28) gave them; DDIM Invert Reference inverts them as K
    references, and the patch's reference_weights weights them."""
    from style_aligned.nodes.blend import KEEP_APART, MultiRefBlend

    assert host.choices(MultiRefBlend, "method") == ["SLERP", "Linear", KEEP_APART]  # appended
    a, b, c = (reference_latent(1, seed=s)["samples"] for s in (1, 2, 3))
    both = blend_node(method=KEEP_APART, latent_1={"samples": a}, latent_2={"samples": b})
    assert torch.equal(both, torch.cat([a, b]))
    three = blend_node(method=KEEP_APART, keep_norm=False, latent_1={"samples": torch.cat([a, b])},
                       latent_4={"samples": c})  # keep_norm has no effect; a gap in the inputs is skipped
    assert torch.equal(three, torch.cat([a, b, c]))
    frames = blend_node(method=KEEP_APART, latent_1={"samples": a[:, :, None]}, latent_2={"samples": b[:, :, None]})
    assert torch.equal(frames, torch.cat([a, b])[:, :, None])  # one-frame latents (Qwen-Image's VAE) stay so
    traj = invert(models["sd15"], "sd15", latent={"samples": both})
    assert traj.ref_count == 2
    assert torch.equal(traj.latents, invert(models["sd15"], "sd15", latent={"samples": torch.cat([a, b])}).latents)


@pytest.mark.parametrize("inputs,match", [
    ({"weights": "0.7, 0.3"}, "weights: '0.7, 0.3' is set, but Keep apart .* reference_weights"),
    ({"weights": "1"}, "weights: '1' is set"),
    ({"latent_2": {"samples": torch.zeros(1, 4, 8, 16)}}, r"latent_2: latent shape \(4, 8, 16\)"),
    ({"method": "Stack"}, r"method: 'Stack' is not one of \['SLERP', 'Linear', 'Keep apart \(K references\)'\]"),
])
def test_blend_node_keep_apart_refuses_weights_and_mismatched_sizes(inputs, match):
    """Its weights would be silently ignored, so a value there is refused with where to put it; references
    of different sizes are refused (Batch Latents resized them)."""
    inputs.setdefault("method", "Keep apart (K references)")
    inputs.setdefault("latent_2", reference_latent(1, seed=2))
    with pytest.raises(ValueError, match=match):
        blend_node(latent_1=reference_latent(1, seed=1), **inputs)
    assert blend_node(method="Keep apart (K references)", weights="  ", latent_1=reference_latent(1)).shape[0] == 1


def test_non_finite_and_huge_values_are_refused_where_they_enter(models, reference_folder):
    """NaN at weight 0 made the whole blend NaN; a reference file of finite but huge latents (1e38)
    loaded and sampled NaN; cfg NaN through the JSON API failed as 'latents contain NaN'. Each is now
    refused with the input named, and the model stays usable."""
    from safetensors.torch import save_file

    good, bad = reference_latent(1), reference_latent(1, seed=1)
    bad["samples"][0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="latent_2: contains NaN or infinite values"):
        blend_node(method="Linear", latent_1=good, latent_2=bad, weights="1, 0")

    with pytest.raises(ValueError, match="cfg must be a finite number"):
        invert(models["sd15"], "sd15", cfg=float("nan"))
    with pytest.raises(ValueError, match="latent: contains NaN"):
        invert(models["sd15"], "sd15", latent=bad)

    tensors, metadata = invert(models["sd15"], "sd15").to_dict()
    huge = torch.full_like(tensors["latents"], 1e38)  # finite in float32
    save_file({**tensors, "latents": huge}, str(reference_folder / "huge.safetensors"), metadata=metadata)
    with pytest.raises(ValueError, match="values up to .* far beyond any latent"):
        host.run_node(LoadStyleReference, model=models["sd15"], reference="huge.safetensors")
    save_file({**tensors, "latents": tensors["latents"].to(torch.int32)}, str(reference_folder / "ints.safetensors"),
              metadata=metadata)
    with pytest.raises(ValueError, match="expected floating-point values, got torch.int32"):
        host.run_node(LoadStyleReference, model=models["sd15"], reference="ints.safetensors")

    trajectory = invert(models["sd15"], "sd15")  # the model still inverts and samples as before
    assert torch.isfinite(trajectory.latents).all()


@pytest.mark.parametrize("prefix", ["style\0name", "x" * 300, "dir/" + "y" * 240])
def test_save_prefix_with_nul_or_too_long_is_a_message(models, reference_folder, prefix):
    with pytest.raises(ValueError, match="filename_prefix: must not contain NUL characters or parts longer"):
        host.run_node(SaveStyleReference, style_reference=invert(models["sd15"], "sd15"), filename_prefix=prefix)


def test_an_unwritable_reference_folder_is_a_message_and_leaves_nothing(models, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root ignores permission bits: a file where the folder should be
            folder.chmod(0o755)
            folder.rmdir()
            folder.write_text("not a folder")
        with host.model_folder(FOLDER, folder), pytest.raises(ValueError, match="could not write .* make the"):
            host.run_node(SaveStyleReference, style_reference=invert(models["sd15"], "sd15"), filename_prefix="a")
    finally:
        if folder.is_dir():
            folder.chmod(0o755)
    assert not list(tmp_path.rglob("*.partial"))


@pytest.mark.parametrize("shape", [(0, 4, 8, 8), (1, 4, 1, 1), (2, 4, 4, 16)])
def test_an_empty_or_tiny_latent_is_refused_before_inverting(models, shape):
    with pytest.raises(ValueError, match="latent: shape .* is too small to invert"):
        invert(models["sd15"], "sd15", latent={"samples": torch.zeros(shape)})
