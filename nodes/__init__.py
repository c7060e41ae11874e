"""Node registry. Each stage lives in its own module; a module whose optional dependency is
missing is skipped with a message saying what to install, and every other node still loads."""

import importlib
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
