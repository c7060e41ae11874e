"""Trajectory lookup and serialisation (pure)."""

import copy

import pytest
import torch
from style_aligned.core.reference.trajectory import Trajectory


def make(steps=6, refs=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    sigmas = torch.cat([torch.zeros(1), torch.logspace(-1.5, 1.2, steps)]).float()
    latents = torch.randn(steps + 1, refs, 4, 3, 5, generator=gen)
    return Trajectory(sigmas, latents, {"model_family": "SD15"})


def test_lookup_is_exact_at_stored_sigmas_including_float32_sigmas():
    traj = make()
    for i, sigma in enumerate(traj.sigmas):
        assert torch.equal(traj.latent_at(float(sigma)), traj.latents[i])
        # the host hands sigmas over as float32 tensors of shape (batch,)
        assert torch.equal(traj.latent_at(sigma.float().expand(3)), traj.latents[i])
    assert torch.equal(traj.latent_at(0.0), traj.clean)


def test_lookup_between_stored_sigmas_is_monotone_and_log_linear():
    traj = make()
    for lo in range(traj.steps):
        a, b = traj.latents[lo], traj.latents[lo + 1]
        s_lo, s_hi = float(traj.sigmas[lo]), float(traj.sigmas[lo + 1])
        grid = torch.linspace(s_lo, s_hi, 41, dtype=torch.float64)[1:-1]
        # the position t of each lookup on the segment a -> b
        ts = [float(((traj.latent_at(float(s)) - a) * (b - a)).sum() / ((b - a) ** 2).sum()) for s in grid]
        assert all(0.0 < t < 1.0 for t in ts)
        assert all(t2 > t1 for t1, t2 in zip(ts, ts[1:], strict=False))  # strictly monotone in sigma
        for s, t in zip(grid.tolist(), ts, strict=True):
            assert torch.allclose(traj.latent_at(s), torch.lerp(a, b, t), atol=1e-6)  # on the segment
    # geometric midpoint in log-sigma for nonzero intervals, arithmetic for the first one
    s1, s2 = float(traj.sigmas[1]), float(traj.sigmas[2])
    assert torch.allclose(traj.latent_at((s1 * s2) ** 0.5), (traj.latents[1] + traj.latents[2]) / 2, atol=1e-6)
    assert torch.allclose(traj.latent_at(s1 / 2), (traj.latents[0] + traj.latents[1]) / 2, atol=1e-6)


def test_out_of_range_is_a_clear_error_or_clamped():
    traj = make()
    with pytest.raises(ValueError, match="outside the style reference's range"):
        traj.latent_at(traj.sigma_max * 1.01)
    with pytest.raises(ValueError, match="outside"):
        traj.latent_at(-0.5)
    assert torch.equal(traj.latent_at(traj.sigma_max * 2, clamp=True), traj.latents[-1])
    assert torch.equal(traj.latent_at(traj.sigma_max * (1 + 1e-7)), traj.latents[-1])  # float noise
    assert not traj.covers(traj.sigma_max * 1.01) and traj.covers(0.0)


def test_construction_checks():
    latents = torch.zeros(3, 1, 4, 2, 2)
    with pytest.raises(ValueError, match="sigmas: must start at 0"):
        Trajectory(torch.tensor([0.1, 0.2, 0.3]), latents)
    with pytest.raises(ValueError, match="strictly increasing"):
        Trajectory(torch.tensor([0.0, 0.2, 0.2]), latents)
    with pytest.raises(ValueError, match="3 steps stored for 2 sigmas"):
        Trajectory(torch.tensor([0.0, 0.2]), latents)
    with pytest.raises(ValueError, match="NaN"):
        Trajectory(torch.tensor([0.0, 0.2, 0.3]), latents.clone().fill_(float("nan")))


def test_dict_round_trip_is_bit_identical_and_metadata_is_strings():
    traj = make()
    tensors, metadata = traj.to_dict()
    assert all(isinstance(v, str) for v in metadata.values())
    assert metadata["ref_count"] == "2" and metadata["latent_channels"] == "4"
    back = Trajectory.from_dict(tensors, metadata)
    assert torch.equal(back.latents, traj.latents) and torch.equal(back.sigmas, traj.sigmas)
    assert back.metadata == traj.metadata


@pytest.mark.parametrize("damage,match", [
    (lambda t, m: m.pop("format"), "not a style reference"),
    (lambda t, m: m.update(version="99"), "version"),
    (lambda t, m: t.pop("latents"), "lacks tensor"),
    (lambda t, m: t.update(latents=t["latents"][:, :1]), "metadata says"),
    (lambda t, m: t.update(sigmas=t["sigmas"] * 2), "disagree"),
    (lambda t, m: m.update(ref_count="5"), "ref_count"),
])
def test_from_dict_rejects_foreign_or_damaged_data(damage, match):
    tensors, metadata = make().to_dict()
    damage(tensors, metadata)
    with pytest.raises(ValueError, match=match):
        Trajectory.from_dict(tensors, metadata, what="reference")


def test_model_check_deepcopy_and_to():
    traj = make()
    traj.check_model("SD15", 4)
    with pytest.raises(ValueError, match="inverted with a SD15 model but is used with a SDXL"):
        traj.check_model("SDXL", 4)
    with pytest.raises(ValueError, match="4 latent channels but the model uses 16"):
        traj.check_model("SD15", 16)
    assert copy.deepcopy({"ref": traj})["ref"] is traj
    half = traj.to(dtype=torch.float16)
    assert half.latents.dtype == torch.float16 and half.latent_at(0.0).dtype == torch.float16
    assert traj.to(dtype=torch.float32) is traj


def test_validation_messages_name_the_input():
    from style_aligned.core.common.validation import require_finite, require_finite_number

    with pytest.raises(ValueError, match="cfg must be a finite number, got nan"):
        require_finite_number(float("nan"), "cfg")
    with pytest.raises(ValueError, match="latent: contains NaN"):
        require_finite(torch.tensor([0.0, float("inf")]), "latent")
    with pytest.raises(ValueError, match="latent: expected floating-point values, got torch.bool"):
        require_finite(torch.tensor([True]), "latent")
    with pytest.raises(ValueError, match="values up to 2e\\+04"):
        require_finite(torch.tensor([2e4]), "latent", bound=1e4)
    assert require_finite(torch.tensor([1e4]), "latent", bound=1e4) is not None


def test_held_sigma_is_the_offset_point_below_the_top():
    trajectory = make(steps=10)
    assert trajectory.held_sigma(0.0) == float(trajectory.sigmas[-1])
    assert trajectory.held_sigma(0.1) == float(trajectory.sigmas[9])  # 1 of 10 steps less noisy
    assert trajectory.held_sigma(0.5) == float(trajectory.sigmas[5])
    with pytest.raises(ValueError, match="at least 0 and below 1"):
        trajectory.held_sigma(1.0)
    with pytest.raises(ValueError, match="use at most 0.900"):
        trajectory.held_sigma(0.97)
