"""Multi-modal nodes in the real host with tiny local models (offline) and a local weather server."""

import http.server
import json
import logging
import os
import resource
import time
from urllib.parse import urlsplit

import folder_paths
import pytest
import torch
from harness import host, inputs, pack, server
from style_aligned.nodes import multimodal, pretrained

KEY = "node-SECRET-key-42"
OURS = [node.define_schema().node_id for node in multimodal.NODES]


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("host_models")
    server.write_tiny_pretrained(root, kinds=("blip", "clap", "whisper"))
    with host.model_folder("blip", root / "blip"), host.model_folder("clap", root / "clap"), \
            host.model_folder("whisper", root / "whisper"):
        yield root


def test_nodes_registered_with_tooltips_and_categories():
    for name in [*OURS, "StyleAlignedDepthMap"]:
        cls = pack.node_classes()[name]
        assert name in pack.display_names()
        assert cls.CATEGORY.startswith("style_aligned/") and cls.DESCRIPTION
        assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES)
        spec = cls.INPUT_TYPES()
        for group in spec.values():
            for input_name, (_, *options) in group.items():
                assert options and options[0].get("tooltip"), f"{name}.{input_name} has no tooltip"


def test_model_list_shows_hub_defaults_then_local_models(model_root):
    choices = pretrained.model_choices("blip", ["Salesforce/blip-image-captioning-base"])
    assert choices[0] == "Salesforce/blip-image-captioning-base" and "tiny-blip" in choices
    assert str(model_root / "blip") in pretrained.model_dirs("blip")
    choices = host.choices(multimodal.StyleAlignedSpeechTranscript, "model")
    assert "small" in choices and "tiny-random.pt" in choices


def test_model_lists_offer_folders_and_our_folder_comes_first(model_root):
    """A transformers model is a folder: single files (the host's own text encoders share models/clip,
    and upstream's text_encoders) are not offered, except Whisper's checkpoints. models/<kind> is the
    first folder, also for "clip", which upstream maps to its text_encoders list."""
    (model_root / "blip" / "stray_text_encoder.safetensors").write_bytes(b"")
    try:
        assert "stray_text_encoder.safetensors" not in pretrained.model_choices("blip", [])
        assert "tiny-random.pt" in pretrained.model_choices("whisper", [], files=True)
    finally:
        (model_root / "blip" / "stray_text_encoder.safetensors").unlink()
    for kind in ("blip", "clip", "dino"):
        assert pretrained.model_dirs(kind)[0] == os.path.join(folder_paths.models_dir, kind)


def test_caption_node_one_caption_per_image_and_keeps_its_model_between_runs(model_root):
    node = multimodal.StyleAlignedImageCaption
    out = host.call(node, torch.rand(3, 30, 41, 4), "tiny-blip", "", "", 4)
    lines = out["result"][0].split("\n")
    assert len(lines) == 3 and out["ui"]["text"][0] == out["result"][0]
    (key, patcher, bundle) = pretrained.loaded("blip")
    assert key == ("blip", "tiny-blip") and bundle[0].training is False
    host.call(node, torch.rand(1, 30, 41, 3), "tiny-blip", "", "", 4)
    assert pretrained.loaded("blip")[1] is patcher  # not loaded again


def test_unknown_hub_id_offline_is_a_clear_error(model_root):
    node = multimodal.StyleAlignedImageCaption
    with pytest.raises(RuntimeError, match="nobody/missing-blip was not found in .*connect to the internet"):
        host.call(node, torch.rand(1, 16, 16, 3), "tiny-blip", "nobody/missing-blip", "", 4)
    with pytest.raises(ValueError, match="neither a local model nor a hub id"):
        host.call(node, torch.rand(1, 16, 16, 3), "tiny-blip", "no such model", "", 4)


def test_speech_node_transcribes_44k_stereo_and_notes_silence(model_root):
    node = multimodal.StyleAlignedSpeechTranscript
    out = host.call(node, inputs.audio(), "tiny-random.pt", "en", "transcribe")
    assert isinstance(out["result"][0], str) and "language: en" in out["ui"]["text"][0]
    silent = host.call(node, {"waveform": torch.zeros(1, 2, 44100), "sample_rate": 44100}, "tiny-random.pt",
                             "auto", "transcribe")
    assert silent["result"] == ("",) and "silent" in silent["ui"]["text"][0]
    empty = host.call(node, {"waveform": torch.zeros(1, 1, 0), "sample_rate": 22050}, "tiny-random.pt",
                            "auto", "translate")
    assert empty["result"] == ("",) and "empty" in empty["ui"]["text"][0]


def test_music_node_scores_each_label_list(model_root):
    node = multimodal.StyleAlignedMusicMood
    out = host.call(node, inputs.audio(), "tiny-clap", "", "jazz, rock", "calm\nhappy", 5)
    phrase, scores = out["result"]
    assert phrase.endswith(" music")
    lines = dict(line.split(": ", 1) for line in scores.split("\n"))
    for key, labels in (("genres", {"jazz", "rock"}), ("moods", {"calm", "happy"})):
        pairs = [item.rsplit(" ", 1) for item in lines[key].split(", ")]
        assert {label for label, _ in pairs} == labels
        assert sum(float(p) for _, p in pairs) == pytest.approx(1.0, abs=0.011)
    silent = host.call(node, {"waveform": torch.zeros(1, 2, 100), "sample_rate": 48000}, "tiny-clap", "", "a", "b", 1)
    assert silent["result"] == ("", "") and "silent" in silent["ui"]["text"][0]


@pytest.mark.parametrize("rate", [11127, 44099])
def test_speech_and_music_nodes_take_audio_at_odd_sample_rates(model_root, rate):
    """16000/44099 in lowest terms once built a 5.6 GB resampling kernel (16.9 GB for CLAP's 48 kHz); 1 s at
    11127 Hz took 24 s and 7.3 GB. Both nodes now read such files like any other, within a small rise of the
    process's peak memory (models included; bench/bench_resample.py measures the resampling alone)."""
    clip = inputs.audio(frequencies=(440.0, 440.0), seconds=1.0, rate=rate)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB (kilobytes on Linux)
    speech_out = host.run_node_shown(multimodal.StyleAlignedSpeechTranscript, audio=clip, model="tiny-random.pt",
                                     language="en")
    music_out = host.run_node_shown(multimodal.StyleAlignedMusicMood, audio=clip, model="tiny-clap",
                                    genres="jazz, rock", moods="calm, happy")
    rise = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    assert isinstance(speech_out[0][0], str) and "language: en" in speech_out[1]
    phrase, scores = music_out[0]
    assert phrase.endswith(" music") and "nan" not in scores
    assert rise < 1024, f"peak memory rose {rise:.0f} MB"


NON_FINITE = {"nan": float("nan"), "inf": float("inf")}


@pytest.mark.parametrize("bad", sorted(NON_FINITE))
def test_audio_with_nan_or_infinite_samples_is_refused_before_a_model_loads(model_root, bad):
    """They used to give a transcript of '!!!!' and 'calm classical music' with NaN scores."""
    clip = inputs.audio(seconds=0.5)
    clip["waveform"][0, 0, 100] = NON_FINITE[bad]
    pretrained.forget()
    for node_class, model, kind in ((multimodal.StyleAlignedSpeechTranscript, "tiny-random.pt", "whisper"),
                                    (multimodal.StyleAlignedMusicMood, "tiny-clap", "clap")):
        with pytest.raises(ValueError, match="audio: 1 of .* samples are NaN or infinite.*load the audio again"):
            host.call(node_class, **host.node_defaults(node_class, audio=clip, model=model))
        assert pretrained.loaded(kind) is None  # refused before any model was loaded
    with pytest.raises(ValueError, match="music_audio: 1 of .* samples are NaN or infinite"):
        host.call(CAPTION, **host.node_defaults(CAPTION, image=inputs.images(1), music_audio=clip, **TINY))
    assert pretrained.loaded("blip") is None  # the image was not captioned first


@pytest.fixture(scope="module")
def weather_url():
    with inputs.fake_weather_service(KEY, timezone=-8 * 3600) as url:
        yield url


def test_weather_node_key_from_env_never_shown(weather_url, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("MY_OWM_KEY", KEY)
    node = multimodal.StyleAlignedWeatherPhrase
    out = host.call(node, "Oslo,NO", "metric", "MY_OWM_KEY", multimodal.ON_ERROR[0], base_url=weather_url)
    assert out["result"] == ("clear sky, 22 °C, afternoon",)
    assert KEY not in json.dumps(out) and all(KEY not in r.getMessage() for r in caplog.records)
    # no input carries a key (whatever a prompt carries is stored in the host's /history): only its name
    spec = multimodal.StyleAlignedWeatherPhrase.INPUT_TYPES()
    assert not [name for section in spec.values() for name in section if "key" in name and name != "api_key_env"]


def test_weather_node_wrong_or_missing_key(weather_url, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("OPENWEATHERMAP_API_KEY", raising=False)
    node = multimodal.StyleAlignedWeatherPhrase
    with pytest.raises(RuntimeError, match="no OpenWeatherMap API key"):
        host.call(node, "Oslo", "metric", "OPENWEATHERMAP_API_KEY", multimodal.ON_ERROR[0], base_url=weather_url)
    wrong = "wrong-SECRET-123"
    monkeypatch.setenv("OPENWEATHERMAP_API_KEY", wrong)
    with pytest.raises(RuntimeError, match="rejected the API key") as info:
        host.call(node, "Oslo", "metric", "OPENWEATHERMAP_API_KEY", multimodal.ON_ERROR[0], base_url=weather_url)
    assert wrong not in str(info.value)
    soft = host.call(node, "Oslo", "metric", "OPENWEATHERMAP_API_KEY", multimodal.ON_ERROR[1], base_url=weather_url)
    assert soft["result"] == ("",) and "rejected the API key" in soft["ui"]["text"][0]
    assert wrong not in json.dumps(soft) and all(wrong not in r.getMessage() for r in caplog.records)


def test_fusion_nodes_single_and_batch_lines():
    single = host.call(multimodal.StyleAlignedPromptFusion, "{prompt} of {caption}, {weather}, {music}",
                       "a watercolor", 55, caption="a cat\na dog", weather="light rain, 12 °C, evening")
    assert single["result"] == ("a watercolor of a cat, a dog, light rain, 12 °C, evening",)
    assert "{music} is empty" in single["ui"]["text"][0]
    lines = host.call(multimodal.StyleAlignedPromptFusionList, "{prompt}, {caption}, {transcript}", "ref\ntarget",
                      8, caption="a cat\na dog\na bird", transcript="one two three four five six seven eight nine ten")
    text, count = lines["result"]
    assert count == 3 and text.split("\n")[0].startswith("ref, a cat, one")
    assert text.split("\n")[2].startswith("target, a bird")
    assert all(len(line.split()) <= 8 for line in text.split("\n"))
    assert "cut from 10" in lines["ui"]["text"][0]
    with pytest.raises(ValueError, match=r"\{mood\}"):
        host.call(multimodal.StyleAlignedPromptFusion, "{mood}", "x", 55)


ODD_REPLIES = {  # valid JSON a broken proxy or a changed API might send
    "no-fields": ({"weather": [], "main": 5}, None),
    "nan-temperature": ('{"weather": [{"description": "fog"}], "main": {"temp": NaN}, "dt": 1700000000}', "fog, night"),
    "time-out-of-range": ({"weather": [{"description": "fog"}], "main": {"temp": 3.2}, "dt": 1e20}, "fog, 3 °C"),
}


DEEP_JSON = '{"weather": ' + "[" * 100_000 + "]" * 100_000 + "}"  # nested deeper than Python's parser recurses


class OddWeather(http.server.BaseHTTPRequestHandler):
    """/<case> answers ODD_REPLIES[case]; /deep DEEP_JSON; /drip sends a reply one byte every 0.12 s."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        case = urlsplit(self.path).path.strip("/")
        body = ODD_REPLIES.get(case, ({"weather": [{"description": "slow"}], "main": {"temp": 1}},))[0]
        body = DEEP_JSON if case == "deep" else body
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        for i in range(len(raw)) if case == "drip" else ():
            self.wfile.write(raw[i:i + 1])
            self.wfile.flush()
            time.sleep(0.12)
        self.wfile.write(b"" if case == "drip" else raw)


@pytest.fixture(scope="module")
def odd_server():
    with inputs.local_http_server(OddWeather) as url:
        yield url


@pytest.mark.parametrize("case", sorted(ODD_REPLIES))
def test_weather_replies_with_odd_fields_are_handled_by_on_error(odd_server, case, monkeypatch):
    monkeypatch.setenv("OPENWEATHERMAP_API_KEY", KEY)
    node = multimodal.StyleAlignedWeatherPhrase
    expected = ODD_REPLIES[case][1]
    soft = host.call(node, "Oslo", "metric", "OPENWEATHERMAP_API_KEY", multimodal.ON_ERROR[1],
                        base_url=f"{odd_server}/{case}", retries=0)
    if expected is not None:  # what can be read is used, the rest left out
        assert soft["result"] == (expected,)
        return
    assert soft["result"] == ("",) and "no usable conditions or temperature" in soft["ui"]["text"][0]
    with pytest.raises(RuntimeError, match="no usable conditions or temperature"):
        host.call(node, "Oslo", "metric", "OPENWEATHERMAP_API_KEY", multimodal.ON_ERROR[0],
                     base_url=f"{odd_server}/{case}", retries=0)


def test_a_deeply_nested_reply_is_a_bad_reply_that_follows_on_error(odd_server, monkeypatch):
    """It raised RecursionError, whatever on_error said."""
    monkeypatch.setenv("OPENWEATHERMAP_API_KEY", KEY)
    soft = host.run_node_shown(multimodal.StyleAlignedWeatherPhrase, location="Oslo", on_error=multimodal.ON_ERROR[1],
                               base_url=f"{odd_server}/deep", retries=0)
    assert soft == (("",), "weather left empty: OpenWeatherMap sent a reply that is not valid JSON; try again later")
    with pytest.raises(RuntimeError, match="not valid JSON"):
        host.run_node(multimodal.StyleAlignedWeatherPhrase, location="Oslo", base_url=f"{odd_server}/deep", retries=0)


def test_a_huge_location_is_refused_before_any_request_and_echoed_capped(weather_url, monkeypatch):
    """A megabyte pasted into location came back whole in the error and the node's note."""
    monkeypatch.setenv("OPENWEATHERMAP_API_KEY", KEY)
    place = "Oslo" * 250_000
    (result, note) = host.run_node_shown(multimodal.StyleAlignedWeatherPhrase, location=place,
                                         on_error=multimodal.ON_ERROR[1], base_url=weather_url)
    assert result == ("",) and len(note) < 300
    assert "location 'OsloOslo" in note and "(1000000 characters)" in note and "type a place such as" in note
    with pytest.raises(ValueError, match="is longer than any place name") as info:
        host.run_node(multimodal.StyleAlignedWeatherPhrase, location=place, base_url=weather_url)
    assert len(str(info.value)) < 300
    with pytest.raises(ValueError, match="is longer than any place name"):
        host.run_node(CAPTION, location=place, **TINY)


def test_a_server_that_drips_bytes_is_given_up_after_timeout_in_all(odd_server, monkeypatch):
    monkeypatch.setenv("OPENWEATHERMAP_API_KEY", KEY)
    node = multimodal.StyleAlignedWeatherPhrase
    started = time.monotonic()
    soft = host.call(node, "Oslo", "metric", "OPENWEATHERMAP_API_KEY", multimodal.ON_ERROR[1],
                        base_url=f"{odd_server}/drip", timeout=1.0, retries=1)
    elapsed = time.monotonic() - started
    assert soft["result"] == ("",) and "no reply within 1 s" in soft["ui"]["text"][0]
    assert elapsed < 4.0, elapsed  # two tries of 1 s and a 0.5 s pause; the reply alone takes over 8 s


@pytest.mark.parametrize("url", ["ftp://example.org/weather", "file:///etc/passwd", "http://[::1", "weather.local",
                                 "http://127.0.0.1:notaport/x"])
def test_a_base_url_that_is_not_http_is_refused_before_any_request(url, monkeypatch):
    monkeypatch.setenv("OPENWEATHERMAP_API_KEY", KEY)
    with pytest.raises(ValueError, match="base_url") as info:
        host.call(multimodal.StyleAlignedWeatherPhrase, "Oslo", "metric", "OPENWEATHERMAP_API_KEY",
                  multimodal.ON_ERROR[0], base_url=url, retries=0)
    assert "network" not in str(info.value)


# ---------------------------------------------------------------- Multimodal Caption: the modality nodes in one

CAPTION = multimodal.MultimodalCaption
TINY = {"caption_model": "tiny-blip", "speech_model": "tiny-random.pt", "music_model": "tiny-clap",
        "caption_max_new_tokens": 4, "speech_language": "en"}


def _widget_defaults(cls):
    return {name: options["default"] for name, (_, options) in cls.INPUT_TYPES()["required"].items()
            if "default" in options}


def _caption(**given):
    """MultimodalCaption's output with its defaults, the tiny models and `given`."""
    return host.call(CAPTION, **{**_widget_defaults(CAPTION), **TINY, **given})


def _alone(source, value, weather_url=None):
    """The separate node's text for one source, as the template's slot and value."""
    if source == "image":
        return "caption", host.call(multimodal.StyleAlignedImageCaption, value, "tiny-blip", "", "", 4)["result"][0]
    if source == "speech_audio":
        return "transcript", host.call(multimodal.StyleAlignedSpeechTranscript, value, "tiny-random.pt", "en",
                                       "transcribe")["result"][0]
    if source == "music_audio":
        defaults = _widget_defaults(multimodal.StyleAlignedMusicMood)
        return "music", host.call(multimodal.StyleAlignedMusicMood, value, "tiny-clap", "", defaults["genres"],
                                  defaults["moods"], 3)["result"][0]
    return "weather", host.call(multimodal.StyleAlignedWeatherPhrase, value, "metric", "OPENWEATHERMAP_API_KEY",
                                multimodal.ON_ERROR[0], base_url=weather_url)["result"][0]


def _fused(texts, max_words=55, template=multimodal.CAPTION_TEMPLATE):
    return host.call(multimodal.StyleAlignedPromptFusion, template, "", max_words, **texts)["result"]


SOURCES = {"image": lambda: torch.rand(2, 30, 41, 3, generator=torch.Generator().manual_seed(3)),
           "speech_audio": inputs.audio, "music_audio": lambda: inputs.audio((330.0, 495.0)),
           "location": lambda: "Oslo,NO"}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_multimodal_caption_one_source_gives_what_its_node_and_fusion_give(source, model_root, weather_url,
                                                                           monkeypatch):
    monkeypatch.setenv("OPENWEATHERMAP_API_KEY", KEY)
    value = SOURCES[source]()
    slot, text = _alone(source, value, weather_url)
    out = _caption(**{source: value}, weather_base_url=weather_url)
    assert out["result"] == _fused({slot: text})
    assert out["ui"]["text"][0].split("\n")[0] == out["result"][0]
    if source == "image":  # two images: their captions joined on one line, as Prompt Fusion does
        assert len(text.split("\n")) == 2 and "\n" not in out["result"][0]
    if source == "location":
        assert out["result"] == ("clear sky, 22 °C, afternoon",)


def test_multimodal_caption_fuses_every_source_and_keeps_its_models(model_root, weather_url, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPENWEATHERMAP_API_KEY", KEY)
    values = {source: make() for source, make in SOURCES.items()}
    texts = dict(_alone(source, value, weather_url) for source, value in values.items())
    out = _caption(**values, weather_base_url=weather_url, max_words=0)
    assert out["result"] == _fused(texts, max_words=0)
    assert texts["weather"] in out["result"][0] and texts["music"] in out["result"][0]
    shown_text = out["ui"]["text"][0]
    assert "Speech transcript: " in shown_text and "language: en" in shown_text and "Weather: clear sky" in shown_text
    assert KEY not in json.dumps(out) and all(KEY not in r.getMessage() for r in caplog.records)
    blip = pretrained.loaded("blip")[1]
    _caption(image=values["image"])
    assert pretrained.loaded("blip")[1] is blip  # not loaded again
    # the template and budget apply as in Prompt Fusion
    short = _caption(**values, weather_base_url=weather_url, template="{weather} with {music}", max_words=4)
    assert short["result"] == _fused(texts, 4, "{weather} with {music}") and len(short["result"][0].split()) <= 4
    assert "cut from" in short["ui"]["text"][0]


def test_multimodal_caption_with_nothing_connected_names_the_inputs():
    for location in ("", "   "):
        with pytest.raises(ValueError, match="connect image, speech_audio or music_audio, or type a place in "
                                             "location"):
            _caption(location=location)
    with pytest.raises(ValueError, match=r"no \{prompt\} slot"):
        _caption(location="Oslo", template="{prompt}, {weather}")  # before any request or model load
    with pytest.raises(ValueError, match=r"\{mood\}"):
        _caption(location="Oslo", template="{mood}")


def test_multimodal_caption_weather_key_never_shown_and_only_its_name_is_an_input(weather_url, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    spec = CAPTION.INPUT_TYPES()
    names = [name for section in spec.values() for name in section]
    assert [name for name in names if "key" in name] == ["weather_api_key_env"]
    assert spec["required"]["weather_api_key_env"][1]["default"] == "OPENWEATHERMAP_API_KEY"
    monkeypatch.setenv("MY_OWM_KEY", KEY)
    out = _caption(location="Oslo", weather_api_key_env="MY_OWM_KEY", weather_base_url=weather_url)
    assert out["result"] == ("clear sky, 22 °C, afternoon",)
    wrong = "wrong-SECRET-123"
    monkeypatch.setenv("MY_OWM_KEY", wrong)
    with pytest.raises(RuntimeError, match="rejected the API key") as info:
        _caption(location="Oslo", weather_api_key_env="MY_OWM_KEY", weather_base_url=weather_url)
    assert wrong not in str(info.value)
    soft = _caption(location="Oslo", weather_api_key_env="MY_OWM_KEY", weather_base_url=weather_url,
                    weather_on_error=multimodal.ON_ERROR[1])
    assert soft["result"] == ("",) and "rejected the API key" in soft["ui"]["text"][0]
    for secret in (KEY, wrong):
        assert secret not in json.dumps(out) + json.dumps(soft)
        assert all(secret not in r.getMessage() for r in caplog.records)


def test_multimodal_caption_inputs_are_the_modality_nodes_inputs():
    """Every option of a modality node is offered under its prefix, with that node's default; a weather
    place re-runs the node every 10 minutes, as Weather Phrase, and no place leaves caching to the host."""
    spec = CAPTION.INPUT_TYPES()
    entries = {name: entry for section in spec.values() for name, entry in section.items()}
    for prefix, node, source_input, _ in CAPTION.SOURCES.values():
        for section in ("required", "optional"):
            for name, (kind, options) in node.INPUT_TYPES().get(section, {}).items():
                if name != source_input:
                    mine = spec[section][f"{prefix}_{name}"]
                    assert mine[0] == kind and mine[1].get("default") == options.get("default"), name
    assert {entries[n][0] for n in ("image", "speech_audio", "music_audio")} == {"IMAGE", "AUDIO"}
    assert set(spec["optional"]) >= {"image", "speech_audio", "music_audio"}
    assert CAPTION.fingerprint_inputs(location="") == ""
    assert CAPTION.fingerprint_inputs(location="Oslo") == multimodal.StyleAlignedWeatherPhrase.fingerprint_inputs()
