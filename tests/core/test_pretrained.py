import os

import pytest
from style_aligned.core.common import pretrained


def test_resolve_prefers_local_folder_named_like_the_hub_id(tmp_path):
    (tmp_path / "Salesforce--blip").mkdir()
    assert pretrained.resolve_source("Salesforce/blip", [str(tmp_path)]) == str(tmp_path / "Salesforce--blip")
    (tmp_path / "plain").mkdir()
    assert pretrained.resolve_source("plain", ["/nonexistent", str(tmp_path)]) == str(tmp_path / "plain")
    assert pretrained.resolve_source(str(tmp_path), []) == str(tmp_path)


def test_resolve_hub_id_and_rejects_other_names(tmp_path):
    assert pretrained.resolve_source("owner/model-1.5", [str(tmp_path)]) == "owner/model-1.5"
    with pytest.raises(ValueError, match="owner--thing|neither a local model"):
        pretrained.resolve_source("not a model", [str(tmp_path)])
    with pytest.raises(ValueError, match="empty"):
        pretrained.resolve_source("  ", [str(tmp_path)])


def test_offline_error_says_where_to_put_files(tmp_path):
    def load(source):
        raise OSError(f"We couldn't connect to 'https://huggingface.co' to load {source}")

    with pytest.raises(RuntimeError) as info:
        pretrained.load_pretrained(load, "owner/model", [str(tmp_path)], "blip")
    message = str(info.value)
    assert "owner/model was not found in" in message
    assert os.path.join(str(tmp_path), "owner--model") in message
    assert "connect to the internet" in message


def test_broken_local_folder_is_reported_as_such(tmp_path):
    (tmp_path / "broken").mkdir()

    def load(source):
        raise OSError("no config.json")

    with pytest.raises(RuntimeError, match="complete model"):
        pretrained.load_pretrained(load, "broken", [str(tmp_path)], "clap")


def test_load_returns_what_load_fn_returns(tmp_path):
    assert pretrained.load_pretrained(lambda s: ("ok", s), "a/b", [str(tmp_path)], "x") == ("ok", "a/b")
