"""Style Aligned Suite: zero-shot style alignment nodes for ComfyUI.

The host imports this folder as a package (under whatever folder name it was cloned to), so
everything inside uses relative imports.
"""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
