"""Audio helpers for the host's AUDIO type: mono mix-down and band-limited resampling in torch.

torchaudio is not a dependency, so the resampler is written here: the windowed-sinc polyphase
filter that torchaudio and librosa's "sinc" modes use (Hann window, 6 zero crossings, roll-off
0.99), applied as one strided conv1d. Linear interpolation would alias high frequencies into
the speech band.
"""

import math

import torch

SILENCE_PEAK = 1e-4  # peak amplitude below which a clip counts as silent


def waveform_batch(audio) -> tuple[torch.Tensor, int]:
    """The (B, C, T) float waveform and sample rate of a host AUDIO dict, validated."""
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise ValueError("audio must be an AUDIO input with 'waveform' and 'sample_rate' (connect a Load Audio node)")
    waveform = torch.as_tensor(audio["waveform"])
    if waveform.dim() == 1:
        waveform = waveform[None, None]
    elif waveform.dim() == 2:
        waveform = waveform[None]
    if waveform.dim() != 3:
        raise ValueError(f"audio waveform must have shape (batch, channels, samples), got {tuple(waveform.shape)}")
    sample_rate = int(audio["sample_rate"])
    if sample_rate <= 0:
        raise ValueError(f"audio sample_rate must be positive, got {sample_rate}")
    return waveform.float(), sample_rate


def to_mono(waveform: torch.Tensor) -> torch.Tensor:
    """(B, C, T) -> (B, T) by averaging channels (keeps loudness of identical channels)."""
    return waveform.mean(dim=1)


def _sinc_kernel(orig: int, new: int, zero_crossings: int = 6, rolloff: float = 0.99, dtype=torch.float32):
    base = min(orig, new) * rolloff
    width = math.ceil(zero_crossings * orig / base)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = (torch.arange(0, -new, -1, dtype=torch.float64)[:, None, None] / new + idx) * base
    t = t.clamp(-zero_crossings, zero_crossings)
    window = torch.cos(t * math.pi / zero_crossings / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t)
    return (sinc * window * base / orig).to(dtype), width


def resample(signal: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample the last axis of `signal` from `orig_rate` to `new_rate` (any leading shape)."""
    if orig_rate == new_rate or signal.shape[-1] == 0:
        return signal if orig_rate == new_rate else signal[..., :0]
    gcd = math.gcd(int(orig_rate), int(new_rate))
    orig, new = int(orig_rate) // gcd, int(new_rate) // gcd
    kernel, width = _sinc_kernel(orig, new, dtype=signal.dtype)
    shape, length = signal.shape[:-1], signal.shape[-1]
    flat = torch.nn.functional.pad(signal.reshape(-1, 1, length), (width, width + orig))
    out = torch.nn.functional.conv1d(flat, kernel.to(signal.device), stride=orig)
    out = out.transpose(1, 2).reshape(flat.shape[0], -1)[:, : math.ceil(new * length / orig)]
    return out.reshape(*shape, -1)


def mono_at(audio, rate: int) -> list[torch.Tensor]:
    """One mono 1-D tensor per batch item of a host AUDIO, resampled to `rate`."""
    waveform, sample_rate = waveform_batch(audio)
    return list(resample(to_mono(waveform), sample_rate, rate).unbind(0))


def is_silent(clip: torch.Tensor) -> bool:
    return clip.numel() == 0 or float(clip.abs().max()) < SILENCE_PEAK
