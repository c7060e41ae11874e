"""The inverted trajectory of one or K reference latents, with lookup at any sigma.

A trajectory is what DDIM inversion leaves behind: the sigmas it visited (ascending, starting at
0, the clean latent) and the latent of every reference at each of them, in the sampler's space
(the `x` a k-diffusion sampler carries, after the host's `process_latent_in`). Generation may use
another scheduler, step count or sampler than the inversion, so lookup interpolates between the
stored sigmas: linearly in log-sigma (the schedules are close to geometric there), and linearly in
sigma between 0 and the first nonzero sigma (log 0 is -inf; the first inversion step is itself a
straight line in sigma).

Pure torch: no host import. Serialises to plain tensors plus string metadata for safetensors.
"""

import math

import torch

from ..common.validation import require_finite

FORMAT = "style_aligned.trajectory"
VERSION = "1"

# Relative sigma tolerance: the host hands sigmas around as float32, the trajectory keeps them in
# float64; anything closer than this is the stored sigma itself.
SIGMA_RTOL = 1e-5
# Sampler-space latents stay within a few times the largest sigma (about 15 for SD, 1 for flow
# models); a stored value beyond this is damage, and would sample NaN.
LATENT_BOUND = 1e4


def _as_float(sigma):
    if isinstance(sigma, torch.Tensor):
        if sigma.numel() != 1:
            values = sigma.flatten().double()
            if not torch.allclose(values, values[0].expand_as(values), rtol=SIGMA_RTOL, atol=0.0):
                raise ValueError(f"sigma: one value expected, got {values.tolist()}")
            sigma = values[0]
        return float(sigma)
    return float(sigma)


def interpolation_weights(sigmas, sigma):
    """Indices (lo, hi) and weight t of `hi` for `sigma` inside ascending `sigmas` (float64, (S,)).

    Exact stored sigmas give t = 0 (or hi == lo). Between 0 and sigmas[1] t is linear in sigma,
    elsewhere linear in log-sigma; t grows monotonically with sigma inside every interval.
    """
    n = sigmas.shape[0]
    idx = int(torch.searchsorted(sigmas, torch.tensor(sigma, dtype=sigmas.dtype), right=False))
    for j in (idx - 1, idx):  # snap to a stored sigma within float tolerance
        if 0 <= j < n and abs(float(sigmas[j]) - sigma) <= SIGMA_RTOL * max(abs(sigma), 1e-12):
            return j, j, 0.0
    lo, hi = idx - 1, idx
    s_lo, s_hi = float(sigmas[lo]), float(sigmas[hi])
    if s_lo <= 0.0:
        t = (sigma - s_lo) / (s_hi - s_lo)
    else:
        t = (math.log(sigma) - math.log(s_lo)) / (math.log(s_hi) - math.log(s_lo))
    return lo, hi, min(max(t, 0.0), 1.0)


class Trajectory:
    """Latents of K references along ascending sigmas.

    sigmas: (S,) ascending, sigmas[0] == 0 (the clean latents), float64.
    latents: (S, K, C, H, W), latents[i] is the batch of K references at sigmas[i]; a video model's clips are
    (S, K, C, T, H, W), T latent frames.
    metadata: str -> str (model family, latent channels, ref count, frames of a clip, how it was made).
    """

    def __init__(self, sigmas, latents, metadata=None):
        sigmas = torch.as_tensor(sigmas).detach().to("cpu", torch.float64).flatten()
        if latents.ndim not in (5, 6):
            raise ValueError(f"latents: expected (steps, refs, C, H, W) or clips (steps, refs, C, frames, H, W), "
                             f"got shape {tuple(latents.shape)}")
        if latents.shape[0] != sigmas.shape[0]:
            raise ValueError(f"latents: {latents.shape[0]} steps stored for {sigmas.shape[0]} sigmas")
        if sigmas.shape[0] < 2:
            raise ValueError("sigmas: a trajectory needs at least the clean latent and one noisy step")
        if float(sigmas[0]) != 0.0:
            raise ValueError(f"sigmas: must start at 0 (the clean latent), starts at {float(sigmas[0])}")
        if not bool(torch.all(sigmas[1:] > sigmas[:-1])):
            raise ValueError("sigmas: must be strictly increasing")
        require_finite(latents, "latents", bound=LATENT_BOUND)
        self.sigmas = sigmas
        self.latents = latents.detach()
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        self.metadata["ref_count"] = str(self.ref_count)
        self.metadata["latent_channels"] = str(latents.shape[2])
        if self.frames is not None:
            self.metadata["frames"] = str(self.frames)

    # ComfyUI deep-copies model_options on every clone; the trajectory is read-only data that
    # patch objects point to, so copies share it instead of duplicating megabytes of latents.
    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return (f"Trajectory(refs={self.ref_count}, latent={tuple(self.latent_shape)}, steps={self.steps}, "
                f"sigma_max={self.sigma_max:.4g}, family={self.metadata.get('model_family', '?')})")

    @property
    def ref_count(self):
        return self.latents.shape[1]

    @property
    def latent_shape(self):
        """(C, H, W) of one reference; (C, T, H, W) of a clip."""
        return tuple(self.latents.shape[2:])

    @property
    def frames(self):
        """The latent frames of a clip reference (a video model's), None for images."""
        return self.latents.shape[3] if self.latents.ndim == 6 else None

    @property
    def steps(self):
        return self.sigmas.shape[0] - 1

    @property
    def sigma_max(self):
        return float(self.sigmas[-1])

    @property
    def clean(self):
        """The clean reference latents, (K, C, H, W) or clips (K, C, T, H, W)."""
        return self.latents[0]

    def held_sigma(self, offset):
        """The sigma the reference is held at while the targets are noisier: `offset` (a fraction of
        the trajectory's steps) below its top, as the original transfer demo starts the reference 5 of
        50 steps less noisy than the targets. 0 = no hold (the top)."""
        if not (0.0 <= offset < 1.0):
            raise ValueError(f"reference_offset must be at least 0 and below 1, got {offset}")
        index = self.steps - round(offset * self.steps)
        if index < 1:
            raise ValueError(f"reference_offset {offset} would hold the reference at its clean latent: this "
                             f"reference has {self.steps} steps, so use at most {(self.steps - 1) / self.steps:.3f}")
        return float(self.sigmas[index])

    def covers(self, sigma):
        """True when `sigma` lies inside the stored range (within float tolerance)."""
        sigma = _as_float(sigma)
        return 0.0 <= sigma <= self.sigma_max * (1.0 + SIGMA_RTOL)

    def latent_at(self, sigma, clamp=False):
        """The K reference latents at `sigma`, (K, C, H, W) (clips: (K, C, T, H, W)).

        Exact (the stored tensor) at stored sigmas; 0 gives the clean latents. Outside the stored
        range it raises, or with `clamp=True` returns the nearest end.
        """
        sigma = _as_float(sigma)
        if not math.isfinite(sigma):
            raise ValueError(f"sigma: must be finite, got {sigma}")
        if not self.covers(sigma):
            if not clamp:
                raise ValueError(
                    f"sigma {sigma:.6g} is outside the style reference's range [0, {self.sigma_max:.6g}]: "
                    "invert the reference with a schedule that reaches this noise level "
                    "(same model, scheduler with the same sigma_max)")
            sigma = min(max(sigma, 0.0), self.sigma_max)
        lo, hi, t = interpolation_weights(self.sigmas, sigma)
        if hi == lo or t == 0.0:
            return self.latents[lo]
        if t == 1.0:
            return self.latents[hi]
        return torch.lerp(self.latents[lo], self.latents[hi], t)

    def check_model(self, model_family=None, latent_channels=None, what="style_reference"):
        """Raise a ValueError naming `what` when the trajectory was made for another model."""
        made_for = self.metadata.get("model_family")
        if model_family is not None and made_for is not None and made_for != str(model_family):
            raise ValueError(
                f"{what}: was inverted with a {made_for} model but is used with a {model_family} model; "
                "invert the reference again with this model")
        if latent_channels is not None and int(latent_channels) != self.latent_shape[0]:
            raise ValueError(
                f"{what}: has {self.latent_shape[0]} latent channels but the model uses {latent_channels}; "
                "invert the reference again with this model")

    def to(self, device=None, dtype=None):
        """A trajectory with latents on `device`/`dtype` (sigmas stay float64 on the CPU)."""
        latents = self.latents.to(device=device, dtype=dtype)
        if latents is self.latents:
            return self
        return Trajectory(self.sigmas, latents, self.metadata)

    def to_dict(self):
        """(tensors, metadata) for `safetensors.torch.save_file(tensors, path, metadata)`."""
        metadata = dict(self.metadata)
        metadata.update(format=FORMAT, version=VERSION, latent_shape=",".join(map(str, self.latents.shape)),
                        sigmas=",".join(repr(float(s)) for s in self.sigmas))
        tensors = {"sigmas": self.sigmas.contiguous(), "latents": self.latents.contiguous()}
        return tensors, metadata

    @classmethod
    def from_dict(cls, tensors, metadata, what="file"):
        """Rebuild from `to_dict` output, checking that tensors and metadata agree."""
        metadata = dict(metadata or {})
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{what}: not a style reference (format is {metadata.get('format')!r}, "
                             f"expected {FORMAT!r}); save one with Save Style Reference")
        if metadata.get("version") != VERSION:
            raise ValueError(f"{what}: style reference format version {metadata.get('version')!r} "
                             f"is not supported (this pack reads version {VERSION})")
        missing = {"sigmas", "latents"} - set(tensors)
        if missing:
            raise ValueError(f"{what}: style reference lacks tensor(s) {sorted(missing)}")
        sigmas, latents = tensors["sigmas"], tensors["latents"]
        shape = ",".join(map(str, latents.shape))
        if metadata.get("latent_shape") != shape:
            raise ValueError(f"{what}: latents have shape ({shape}) but the metadata says "
                             f"({metadata.get('latent_shape')}); the file is damaged")
        stored = metadata.get("sigmas", "")
        try:
            listed = torch.tensor([float(s) for s in stored.split(",")], dtype=torch.float64)
        except ValueError:
            raise ValueError(f"{what}: unreadable sigmas in metadata; the file is damaged") from None
        if listed.shape != sigmas.shape or not torch.equal(listed, sigmas.to(torch.float64)):
            raise ValueError(f"{what}: sigmas tensor and metadata disagree; the file is damaged")
        known = latents.ndim in (5, 6)  # else the constructor below says what is wrong
        for key, value in (("ref_count", latents.shape[1] if known else None),
                           ("latent_channels", latents.shape[2] if known else None),
                           ("frames", latents.shape[3] if latents.ndim == 6 else None)):
            if key in metadata and str(value) != metadata[key]:
                raise ValueError(f"{what}: {key} is {metadata[key]} in metadata but {value} in the tensors; "
                                 "the file is damaged")
        for key in ("format", "version", "latent_shape", "sigmas"):
            metadata.pop(key)
        try:
            return cls(sigmas, latents, metadata)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
