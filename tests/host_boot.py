"""Start the ComfyUI host in-process and load the pack the way the host does.

Used by tests/conftest.py and by the scripts in bench/. Never puts the repo root on sys.path:
our `nodes/` would shadow the host's top-level `nodes` module.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACK = "style_aligned"


def load_module(name, path, package_dir=None):
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(package_dir)] if package_dir else None
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def start_host(cpu=True):
    """Import the host (CPU unless told otherwise) and alias the modules packs expect at top level."""
    from comfy.cli_args import args

    args.cpu = cpu
    import comfy.model_management  # noqa: F401  (must come after args.cpu)
    from comfy import node_helpers
    from comfy.cmd import folder_paths, latent_preview
    from comfy.nodes import base_nodes

    # The installable host aliases these before loading a pack; upstream has them at top level.
    for short, module in {
        "folder_paths": folder_paths,
        "latent_preview": latent_preview,
        "node_helpers": node_helpers,
        "nodes": base_nodes,
    }.items():
        sys.modules.setdefault(short, module)


def load_pack():
    if PACK not in sys.modules:
        load_module(PACK, ROOT / "__init__.py", ROOT)
    return sys.modules[PACK]


def load_support():
    """tests/support.py (tiny real models) as `sa_support`."""
    if "sa_support" not in sys.modules:
        load_module("sa_support", ROOT / "tests" / "support.py")
    return sys.modules["sa_support"]
