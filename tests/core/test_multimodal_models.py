"""Captions, transcripts, music labels and depth with tiny real models loaded from a folder offline."""

import math
import os

import pytest
import torch
from harness import tiny_hf
from style_aligned.core.common import pretrained
from style_aligned.core.content import captions, depth, music, speech


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    tiny_hf.blip(root / "blip" / "tiny--blip")
    tiny_hf.clap(root / "clap" / "tiny-clap")
    tiny_hf.dpt(root / "dpt" / "tiny-dpt")
    tiny_hf.whisper_checkpoint(root / "whisper" / "tiny-random.pt")
    return root


def _load(models, kind, name, load_fn, resolve=pretrained.resolve_source):
    return pretrained.load_pretrained(load_fn, name, [str(models / kind)], kind, resolve=resolve)


def test_blip_batch_of_n_images_gives_n_captions(models):
    bundle = _load(models, "blip", "tiny/blip", captions.load_blip)  # hub-style name -> tiny--blip folder
    images = torch.rand(3, 45, 61, 4)  # odd size with alpha
    result = captions.caption_images(bundle, images, max_new_tokens=4, batch_size=2)
    assert len(result) == 3 and all(isinstance(c, str) for c in result)
    prefixed = captions.caption_images(bundle, images[:1], prefix="a  painting of", max_new_tokens=3)
    assert prefixed[0].startswith("a painting of")
    gray = captions.caption_images(bundle, torch.rand(1, 20, 20, 1), max_new_tokens=2)
    assert len(gray) == 1


def test_unknown_hub_id_offline_gives_a_clear_error(models):
    with pytest.raises(RuntimeError, match="nobody/no-such-blip was not found in .* connect to the internet"):
        _load(models, "blip", "nobody/no-such-blip", captions.load_blip)


def test_whisper_safe_load_and_44k_stereo_transcript(models):
    path = speech.resolve_whisper("tiny-random", [str(models / "whisper")])
    assert path.endswith("tiny-random.pt")
    model = speech.make_loader(str(models / "whisper"))(path)
    t = torch.arange(44100 * 2) / 44100
    stereo = torch.stack([torch.sin(2 * math.pi * 220 * t), 0.5 * torch.sin(2 * math.pi * 330 * t)])[None] * 0.3
    texts, notes = speech.transcribe_audio(model, {"waveform": stereo, "sample_rate": 44100}, sample_len=6)
    assert len(texts) == 1 and isinstance(texts[0], str)
    assert notes[0].startswith("language: ")
    texts, _ = speech.transcribe_audio(model, {"waveform": stereo, "sample_rate": 44100}, language="fr",
                                       task="translate", sample_len=4)
    assert isinstance(texts[0], str)


def test_whisper_silent_empty_and_bad_options(models):
    model = speech.load_checkpoint(str(models / "whisper" / "tiny-random.pt"))
    assert speech.transcribe(model, torch.zeros(16000)) == ("", "audio is silent: nothing to transcribe")
    assert speech.transcribe(model, torch.zeros(0))[0] == ""
    texts, notes = speech.transcribe_audio(model, {"waveform": torch.zeros(1, 2, 0), "sample_rate": 44100})
    assert texts == [""] and "empty" in notes[0]
    with pytest.raises(ValueError, match="language 'xx'"):
        speech.transcribe(model, torch.ones(1600) * 0.1, language="xx")
    with pytest.raises(ValueError, match="not an official name"):
        speech.resolve_whisper("huge-v9", [str(models / "whisper")])


def test_whisper_refuses_unsafe_pickles(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"dims": {"n_mels": 80}, "model_state_dict": {}, "payload": os.getcwd}, path)  # a callable
    with pytest.raises(OSError, match="could not be read safely"):
        speech.load_checkpoint(str(path))


def test_clap_scores_are_a_distribution_over_the_given_labels(models):
    bundle = _load(models, "clap", "tiny-clap", music.load_clap)
    clip = torch.randn(44100) * 0.1
    genres = music.parse_labels("jazz, rock\nambient, jazz", "genres")
    assert genres == ["jazz", "rock", "ambient"]
    scores = music.classify(bundle, clip, 44100, {"genres": genres, "moods": ["calm", "happy"]})
    assert sorted(label for label, _ in scores["genres"]) == sorted(genres)
    assert [label for label, _ in scores["moods"]] in (["calm", "happy"], ["happy", "calm"])
    for ranked in scores.values():
        probs = [p for _, p in ranked]
        assert sum(probs) == pytest.approx(1.0, abs=1e-5) and probs == sorted(probs, reverse=True)
    assert music.phrase(scores).endswith("music")
    with pytest.raises(ValueError, match="genres: the label list is empty"):
        music.parse_labels(" , \n", "genres")


def test_dpt_depth_map_matches_input_size(models):
    bundle = _load(models, "dpt", "tiny-dpt", depth.load_dpt)
    maps = depth.depth_maps(bundle, torch.rand(2, 37, 53, 4))
    assert maps.shape == (2, 37, 53, 3)
    assert float(maps.min()) >= 0 and float(maps.max()) <= 1
    assert torch.equal(maps[..., 0], maps[..., 2])
    assert float(maps[0].amax()) == pytest.approx(1.0) and float(maps[0].amin()) == pytest.approx(0.0)
