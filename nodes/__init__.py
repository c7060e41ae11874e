"""Node registry: one module per stage. Optional packages are imported by the nodes only when they
run, so a missing one disables only its nodes and is named at load time. Our own modules are
imported plainly: a bug in one fails the pack's import loudly instead of hiding a node."""

import importlib
import importlib.util
import logging

log = logging.getLogger("style_aligned")

_STAGES = ("patch", "batch_prompts", "reference", "blend", "multimodal", "depth", "metrics")

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}

for _stage in _STAGES:
    _module = importlib.import_module(f".{_stage}", __name__)
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
