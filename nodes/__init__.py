"""Node registry. Each stage lives in its own module; a module whose optional dependency is
missing is skipped with a message saying what to install, and every other node still loads."""

import importlib
import importlib.util
import logging

log = logging.getLogger("style_aligned")

# module name -> pip package to suggest when its import fails
_STAGES = {
    "multimodal": None,
    "depth": None,
    "patch": None,
    "reference": None,
    "blend": None,
    "batch_prompts": None,
    "metrics": None,
}

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
UNAVAILABLE = {}

for _stage, _package in _STAGES.items():
    try:
        _module = importlib.import_module(f".{_stage}", __name__)
    except ImportError as exc:
        hint = f"pip install {_package}" if _package else "reinstall the pack"
        UNAVAILABLE[_stage] = f"{exc} ({hint})"
        log.warning("Style Aligned: nodes of '%s' not loaded: %s; %s", _stage, exc, hint)
        continue
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)


# Optional packages the nodes import only when they run: checked here without importing them, so
# a missing one is named at load time (every node still registers; using it says the same).
_OPTIONAL = {
    "whisper": ("openai-whisper", "Speech Transcript"),
    "transformers": ("transformers", "Image Caption, Music Mood, Depth Map and the metric nodes"),
    "matplotlib": ("matplotlib", "the metric nodes' charts"),
    "requests": ("requests", "Weather Phrase"),
}
MISSING_OPTIONAL = {}


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


for _module, (_package, _users) in _OPTIONAL.items():
    if not _installed(_module):
        MISSING_OPTIONAL[_package] = _users
        log.warning("Style Aligned: %s need(s) %s, which is not installed: pip install %s "
                    "(every other node works)", _users, _package, _package)
