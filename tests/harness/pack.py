"""The pack loaded by path under a fixed package name, the way the host loads a custom-node folder.

The repo root is never put on sys.path: our `nodes/` would shadow the host's own `nodes` module.
"""

import asyncio
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = "style_aligned"
_state = {}


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
    """The whole pack, its entry point defined (the host must be started first: see harness.host.start)."""
    module = package()
    if not hasattr(module, "comfy_entrypoint"):
        module.__spec__.loader.exec_module(module)
    return module


def _registered():
    """What the host registers from the pack's entry point, read the way its loader reads it:
    ({node id: class}, {node id: display name})."""
    if "registered" not in _state:
        async def node_list():
            extension = await load().comfy_entrypoint()
            return await extension.get_node_list()

        classes, names = {}, {}
        for node in asyncio.run(node_list()):
            schema = node.GET_SCHEMA()
            classes[schema.node_id] = node
            if schema.display_name is not None:
                names[schema.node_id] = schema.display_name
        _state["registered"] = classes, names
    return _state["registered"]


def node_classes() -> dict:
    """{node id: node class} of the pack, as the host registers them (the deprecated ids included)."""
    return dict(_registered()[0])


def display_names() -> dict:
    """{node id: display name} of the pack, as the host lists them."""
    return dict(_registered()[1])
