"""The pack loaded by path under a fixed package name, the way the host loads a custom-node folder.

The repo root is never put on sys.path: our `nodes/` would shadow the host's own `nodes` module.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = "style_aligned"


def package():
    """The pack as package `style_aligned` with its __init__ not run yet, so that `style_aligned.core`
    imports without a host (the pure tests of core/ use this)."""
    module = sys.modules.get(NAME)
    if module is None:
        spec = importlib.util.spec_from_file_location(NAME, ROOT / "__init__.py",
                                                      submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = module
    return module


def load():
    """The whole pack, nodes registered (the host must be started first: see harness.host.start)."""
    module = package()
    if not hasattr(module, "NODE_CLASS_MAPPINGS"):
        module.__spec__.loader.exec_module(module)
    return module
