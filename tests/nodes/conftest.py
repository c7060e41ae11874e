import pytest
from style_aligned.nodes import pretrained


@pytest.fixture(autouse=True)
def offline_and_fresh(monkeypatch):
    """No hub access, and no model cached from another test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    pretrained.clear_cache()
    yield
    pretrained.clear_cache()
