"""Audio helpers for the host's AUDIO type: checks, mono mix-down and band-limited resampling.

torchaudio is not a dependency (the host's torch is), so resampling goes through python-soxr (see
`resample`). Linear interpolation would alias high frequencies into the speech band.
"""

import math

import torch

SILENCE_PEAK = 1e-4  # peak amplitude below which a clip counts as silent
# Far beyond any PCM scale (full scale is 1; 32-bit integer samples reach 2.1e9), and far below the level
# whose squared STFT sums overflow float32 in Whisper's and CLAP's spectrograms (about 1e16), which turns
# the whole clip into NaN: "!!!!" as a transcript, NaN scores.
MAX_SAMPLE = 1e12


def waveform_batch(audio, name="audio") -> tuple[torch.Tensor, int]:
    """The (B, C, T) float waveform and sample rate of a host AUDIO dict, validated; errors name the input `name`."""
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise ValueError(f"{name} must be an AUDIO input with 'waveform' and 'sample_rate' (connect a Load Audio "
                         "node)")
    waveform = torch.as_tensor(audio["waveform"])
    if waveform.dim() == 1:
        waveform = waveform[None, None]
    elif waveform.dim() == 2:
        waveform = waveform[None]
    if waveform.dim() != 3:
        raise ValueError(f"{name} waveform must have shape (batch, channels, samples), got {tuple(waveform.shape)}")
    sample_rate = int(audio["sample_rate"])
    if sample_rate <= 0:
        raise ValueError(f"{name} sample_rate must be positive, got {sample_rate}")
    _check_samples(waveform, name)  # before the float32 cast, which makes a float64 1e300 infinite
    return waveform.float(), sample_rate


def _check_samples(waveform: torch.Tensor, name: str):
    """Refuse NaN, infinite or absurdly large samples, before any model is loaded: the models turn
    them into a transcript of '!!!!' or NaN scores without a word."""
    bad = int((~torch.isfinite(waveform)).sum())
    if bad:
        raise ValueError(f"{name}: {bad} of {waveform.numel()} samples are NaN or infinite (a damaged file, or a "
                         "node upstream that divided by zero); load the audio again or repair it before this node")
    peak = float(waveform.abs().max().double()) if waveform.numel() else 0.0
    if peak > MAX_SAMPLE:
        raise ValueError(f"{name}: samples reach {peak:.3g}, far beyond full scale (1.0); the file or a node "
                         "upstream scaled it wrongly: normalise the audio to -1..1 before this node")


def to_mono(waveform: torch.Tensor) -> torch.Tensor:
    """(B, C, T) -> (B, T) by averaging channels (keeps loudness of identical channels)."""
    return waveform.mean(dim=1)


def _soxr():
    try:
        import soxr
    except ImportError as exc:
        raise RuntimeError("resampling audio needs python-soxr: pip install soxr") from exc
    return soxr


def resample(signal: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample the last axis of `signal` from `orig_rate` to `new_rate` (any leading shape).

    Each row goes through libsoxr (python-soxr) at its "HQ" setting, librosa's default resampler. Filters
    built from the ratio in lowest terms grow with it, and odd rates make it huge: 16000/44099. The sinc
    kernel this replaced asked 5.6 GB there (1 s at 11127 Hz took 24 s and 7.3 GB); scipy's resample_poly,
    already in the host, needs 20 * max(up, down) taps: 40 MB at 44099 Hz, 184 MB at 192001 Hz, growing with
    the rate. libsoxr's memory does not depend on the rates (about 5 MB and 10-60 ms for one second, in a
    fresh process: bench/bench_resample.py), which is why it is worth a dependency.
    """
    if orig_rate == new_rate:
        return signal
    shape, length = signal.shape[:-1], signal.shape[-1]
    rows = signal.detach().reshape(math.prod(shape), length).cpu()
    rows = rows.double() if rows.dtype == torch.float64 else rows.float()  # the float types soxr takes
    soxr = _soxr()
    out = [torch.from_numpy(soxr.resample(row.numpy(), int(orig_rate), int(new_rate), quality="HQ"))
           for row in rows]
    out = torch.stack(out) if out else rows.new_zeros(0, round(length * new_rate / orig_rate))
    return out.reshape(*shape, out.shape[-1]).to(device=signal.device, dtype=signal.dtype)


def mono_at(audio, rate: int) -> list[torch.Tensor]:
    """One mono 1-D tensor per batch item of a host AUDIO, resampled to `rate`."""
    waveform, sample_rate = waveform_batch(audio)
    return list(resample(to_mono(waveform), sample_rate, rate).unbind(0))


def is_silent(clip: torch.Tensor) -> bool:
    return clip.numel() == 0 or float(clip.abs().max()) < SILENCE_PEAK
