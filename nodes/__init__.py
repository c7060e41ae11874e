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


def deprecated_alias(old_id: str, new_id: str, cls: type, display: str) -> tuple[type, str]:
    """(class, display name) that keeps a renamed node's old id loading in saved workflows: the same node
    under the old id, marked `DEPRECATED` (the host's /object_info says `deprecated: true` and its
    frontend hides the node from search)."""
    alias = type(f"{cls.__name__}DeprecatedId", (cls,), {
        "__module__": cls.__module__,
        "__doc__": cls.__doc__,
        "DEPRECATED": True,
        "REPLACED_BY": new_id,
        "DESCRIPTION": f"Deprecated id {old_id}, kept so saved workflows still load: the same node as {display} "
                       f"({new_id}); use that one in new workflows.",
        # the node's own description, with its details, on the help page
        "DETAILS": " ".join(t for t in (getattr(cls, "DESCRIPTION", ""), getattr(cls, "DETAILS", "")) if t),
    })
    return alias, f"{display} (deprecated id)"


for _stage in _STAGES:
    _module = importlib.import_module(f".{_stage}", __name__)
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)
    # {old id: new id} of the stage's renamed nodes
    for _old, _new in getattr(_module, "DEPRECATED_IDS", {}).items():
        NODE_CLASS_MAPPINGS[_old], NODE_DISPLAY_NAME_MAPPINGS[_old] = deprecated_alias(
            _old, _new, _module.NODE_CLASS_MAPPINGS[_new], _module.NODE_DISPLAY_NAME_MAPPINGS[_new])


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
