import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from harness import inputs, pythonpath
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


@pytest.mark.parametrize("rate", [11127, 16001, 44099, 47999])
def test_odd_and_prime_rates_resample_correctly(rate):
    """The ratio in lowest terms is huge here (16000/44099): the result must still be the right sine."""
    tone = inputs.tone((440.0,), 1.0, rate, 1.0)
    for target in (16000, 48000):
        out = audio.resample(tone, rate, target)
        assert out.shape == (1, target)
        assert abs(_peak_hz(out[0], target) - 440.0) <= 1.0
        expected = inputs.tone((440.0,), 1.0, target, 1.0)
        assert torch.allclose(out[:, 500:-500], expected[:, 500:-500], atol=2e-2)


BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_resample.py"
RESAMPLE_BOUND_MB = 50  # one second at any rate: the sinc kernel this replaced asked 5.6 GB at 44099 Hz
RESAMPLE_BOUND_S = 2.0


@pytest.mark.parametrize("rate,target", [(11127, 16000), (44099, 48000)])
def test_resampling_a_prime_rate_stays_within_a_small_memory_bound(rate, target):
    """Measured by the benchmark in a fresh process: the rise of max RSS (libsoxr's C memory included)."""
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    done = subprocess.run([sys.executable, str(BENCH), "--one", "ours", str(rate), str(target)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.splitlines()[-1])
    assert measured["samples"] == target
    assert measured["rss_mb"] < RESAMPLE_BOUND_MB and measured["traced_mb"] < RESAMPLE_BOUND_MB, measured
    assert measured["ms"] < RESAMPLE_BOUND_S * 1000, measured


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_samples_are_refused_naming_the_audio(bad):
    waveform = torch.zeros(1, 2, 100)
    waveform[0, 1, 7] = bad
    with pytest.raises(ValueError, match=r"audio: 1 of 200 samples are NaN or infinite.*load the audio again"):
        audio.waveform_batch({"waveform": waveform, "sample_rate": 44100})


def test_absurdly_loud_samples_are_refused_before_they_overflow_a_spectrogram():
    waveform = torch.zeros(1, 1, 100, dtype=torch.float64)
    waveform[0, 0, 3] = 1e300  # infinite once cast to float32: named by its size, not as infinite
    with pytest.raises(ValueError, match=r"audio: samples reach 1e\+300, far beyond full scale.*normalise"):
        audio.waveform_batch({"waveform": waveform, "sample_rate": 44100})
    loud = torch.full((1, 1, 100), 32767.0)  # 16-bit integer scale: odd, but a model still reads it
    assert audio.waveform_batch({"waveform": loud, "sample_rate": 44100})[0].shape == (1, 1, 100)


def test_without_soxr_resampling_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "soxr", None)  # as if not installed: import raises ImportError
    same = torch.ones(1, 100)
    assert audio.resample(same, 16000, 16000) is same  # nothing to resample needs nothing
    with pytest.raises(RuntimeError, match="pip install soxr"):
        audio.resample(same, 44100, 16000)
