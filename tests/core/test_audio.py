
import pytest
import torch
from harness import inputs
from style_aligned.core.content import audio


def _peak_hz(signal, rate):
    spectrum = torch.fft.rfft(signal * torch.hann_window(signal.shape[-1]))
    return float(spectrum.abs().argmax()) * rate / signal.shape[-1]


def test_resample_keeps_a_sine_at_its_frequency():
    stereo = inputs.tone((440.0, 440.0), 1.0, 44100, 1.0)[None]  # (1, 2, T)
    [mono16k] = audio.mono_at({"waveform": stereo, "sample_rate": 44100}, 16000)
    assert mono16k.shape == (16000,)
    assert abs(_peak_hz(mono16k, 16000) - 440.0) <= 1.0
    # amplitude preserved in the pass band (edges excluded)
    assert mono16k[1000:-1000].abs().max() == pytest.approx(1.0, abs=0.02)


def test_resample_removes_frequencies_above_the_new_nyquist():
    # 12 kHz cannot exist at 16 kHz; a naive decimator would fold it to 4 kHz
    high = inputs.tone((12000.0,), 1.0, 44100, 1.0)
    low = audio.resample(high, 44100, 16000)
    assert low[:, 500:-500].abs().max() < 0.02


def test_resample_matches_a_reference_upsample():
    tone = inputs.tone((1000.0,), 1.0, 8000, 1.0)
    up = audio.resample(tone, 8000, 16000)
    expected = inputs.tone((1000.0,), 1.0, 16000, 1.0)
    assert up.shape == expected.shape
    assert torch.allclose(up[:, 200:-200], expected[:, 200:-200], atol=1e-2)


def test_mono_mix_and_batch_shapes():
    left, right = torch.ones(1, 1, 100), -torch.ones(1, 1, 100)
    mixed = audio.to_mono(torch.cat([left, right], dim=1))
    assert mixed.shape == (1, 100) and mixed.abs().max() == 0
    assert audio.is_silent(mixed[0])
    clips = audio.mono_at({"waveform": torch.randn(3, 2, 4410), "sample_rate": 44100}, 16000)
    assert [c.shape[0] for c in clips] == [1600, 1600, 1600]


def test_zero_length_and_bad_audio():
    [empty] = audio.mono_at({"waveform": torch.zeros(1, 2, 0), "sample_rate": 44100}, 16000)
    assert empty.numel() == 0 and audio.is_silent(empty)
    with pytest.raises(ValueError, match="sample_rate"):
        audio.waveform_batch({"waveform": torch.zeros(1, 1, 10), "sample_rate": 0})
    with pytest.raises(ValueError, match="AUDIO"):
        audio.waveform_batch(torch.zeros(1, 1, 10))
