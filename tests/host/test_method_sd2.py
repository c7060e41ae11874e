"""SD 2.x, the v-prediction UNet family, in the real host (tiny_models.tiny_model("sd2"): supported_models.SD20 as
a v-prediction model): the host really treats it as v-prediction, DDIM inversion asks it at the next sigma with
the same network input, and a refined inversion comes back through the host's own Euler sampler. The patch
invariants and reference injection run on it in test_patch_node.py and test_reference_injection.py."""

import comfy.sample
import comfy.samplers
import pytest
import torch
from harness import host, recording
from harness import tiny_models as tiny
from style_aligned.nodes.reference import DDIMInvertReference

STEPS = 6


@pytest.fixture(scope="module")
def sd2():
    return tiny.tiny_model("sd2")


def references(refs=2, seed=0):
    return torch.randn(refs, 4, 8, 8, generator=torch.Generator().manual_seed(seed))


def invert(model, latent, **inputs):
    inputs.setdefault("positive", tiny.conditioning("sd2", 1))
    return host.run_node(DDIMInvertReference, model=model, latent={"samples": latent}, steps=STEPS, **inputs)[0]


def test_the_tiny_sd2_is_a_v_prediction_model_in_the_host(sd2):
    """The host's denoised output is the v-prediction one, x / (sigma^2 + 1) - v sigma / sqrt(sigma^2 + 1)
    (sigma_data 1), with v the network's raw output on the scaled input x / sqrt(sigma^2 + 1)."""
    import comfy.model_base

    assert sd2.model.model_type == comfy.model_base.ModelType.V_PREDICTION
    assert type(sd2.model.model_config).__name__ == "SD20"
    model = sd2.clone()
    recorder = recording.CallRecorder.install(model)
    tiny.sample(model, "sd2", 2, steps=2, cfg=1.0)
    network = sd2.model.diffusion_model
    sampling = sd2.get_model_object("model_sampling")
    contrast = 0.0
    for call in recorder.calls:
        x, sigma = call["input"].double(), call["timestep"].double().view(-1, 1, 1, 1)
        with torch.no_grad():
            v = network(call["input"] / (call["timestep"].view(-1, 1, 1, 1) ** 2 + 1) ** 0.5,
                        sampling.timestep(call["timestep"]).float(), context=call["c"]["c_crossattn"]).double()
        expected = x / (sigma**2 + 1) - v * sigma / (sigma**2 + 1) ** 0.5
        eps_reading = x - v * sigma  # what an eps model would have made of the same output
        scale = expected.abs().amax()
        assert (call["output"].double() - expected).abs().amax() <= 1e-5 * scale
        contrast = max(contrast, float((eps_reading - expected).abs().amax() / scale))
    assert contrast >= 1e-2  # at the high sigmas the two readings are far apart


def test_inversion_asks_the_model_at_the_next_sigma_with_the_same_input(sd2):
    """DDIM inversion (the original's _ddim_loop) on a v-prediction model: every call at the next sigma, on the
    stored latent carried there with the same network input (c_in = 1 / sqrt(1 + sigma^2), as for eps), and the
    step x_next = x + h (x_eval - D) / sigma_next with the host's D."""
    model = sd2.clone()
    recorder = recording.CallRecorder.install(model)
    latent = references()
    trajectory = invert(model, latent, positive=tiny.conditioning("sd2", 2))
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "normal", STEPS)
    assert torch.equal(trajectory.sigmas, sigmas.flip(0).double())
    assert trajectory.metadata["model_family"] == "SD20" and trajectory.metadata["model_type"] == "V_PREDICTION"
    assert torch.equal(trajectory.clean, model.model.process_latent_in(latent))
    assert len(recorder.calls) == STEPS
    for i, call in enumerate(recorder.calls):
        sigma, sigma_next = float(trajectory.sigmas[i]), float(trajectory.sigmas[i + 1])
        x_eval = trajectory.latents[i] * ((1 + sigma_next**2) / (1 + sigma**2)) ** 0.5
        torch.testing.assert_close(call["input"], x_eval)
        assert float(call["timestep"][0]) == pytest.approx(sigma_next, rel=1e-6)
        expected = trajectory.latents[i] + (sigma_next - sigma) * (call["input"] - call["output"]) / sigma_next
        torch.testing.assert_close(trajectory.latents[i + 1], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["sd15", "sd2"])
def test_refined_inversion_comes_back_through_the_hosts_euler_sampler(kind):
    """Round trip: the inverted top latent, sampled with the host's own Euler sampler on the same schedule, gives
    the reference back. With refinement each inversion step solves x_next = x + h d(x_next, sigma_next), so Euler
    retraces it exactly (to float32); plain DDIM inversion does not, which shows the round trip is not trivially
    true. A calm tiny model (small output), on which the fixed-point refinement converges."""
    model = tiny.calm_model(kind)
    latent = references(1, seed=3)
    positive = tiny.conditioning(kind, 1, seed=4)

    def round_trip(refinement):
        trajectory = invert(model, latent, positive=positive, refinement=refinement)
        top = trajectory.latents[-1]
        # the host starts a full denoise at noise * sqrt(1 + sigma_max^2) (its max_denoise noise scaling)
        noise = top / (1 + float(trajectory.sigmas[-1]) ** 2) ** 0.5
        out = comfy.sample.sample(model, noise, STEPS, 1.0, "euler", "normal", positive, positive,
                                  torch.zeros_like(latent), disable_pbar=True, seed=0)
        return float((out - latent).abs().amax() / latent.abs().amax())

    refined, plain = round_trip(16), round_trip(0)
    print(f"\n{kind}: round trip relative error, refined {refined:.1e}, plain DDIM {plain:.1e}")
    assert refined <= 1e-4
    assert plain >= 100 * refined
