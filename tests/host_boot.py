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
    """Import a file as module `name` (once; later calls return the loaded module)."""
    if name in sys.modules:
        return sys.modules[name]
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

    try:
        from comfy.cmd import folder_paths, latent_preview
    except ImportError:  # current upstream: the modules packs use are top-level modules already
        _import_host_top_level("folder_paths", "latent_preview", "node_helpers", "nodes")
        return
    from comfy import node_helpers
    from comfy.nodes import base_nodes

    # The installable host aliases these before loading a pack; upstream has them at top level.
    for short, module in {
        "folder_paths": folder_paths,
        "latent_preview": latent_preview,
        "node_helpers": node_helpers,
        "nodes": base_nodes,
    }.items():
        sys.modules.setdefault(short, module)


def _import_host_top_level(*names):
    """Import the host's own top-level modules. `python -m pytest` run from the repo puts the repo
    root first on sys.path, where our `nodes/` package would win over the host's `nodes` module,
    so the root is left out while these are imported (later imports find them in sys.modules)."""
    saved = sys.path[:]
    sys.path[:] = [p for p in saved if Path(p or ".").resolve() != ROOT]
    try:
        for name in names:
            module = importlib.import_module(name)
            if Path(getattr(module, "__file__", None) or ROOT).resolve().is_relative_to(ROOT):
                raise RuntimeError(f"'{name}' resolves to this repository ({module.__file__}), not to the host")
    finally:
        sys.path[:] = saved


def load_pack():
    return load_module(PACK, ROOT / "__init__.py", ROOT)


def load_support():
    """tests/support.py (tiny real models) as `sa_support`."""
    return load_test_module("support")


def load_test_module(stem):
    """tests/<stem>.py as `sa_<stem>` (tiny_hf, tiny_vision, support)."""
    return load_module(f"sa_{stem}", ROOT / "tests" / f"{stem}.py")


def load_tool(stem):
    """tools/<stem>.py as `sa_<stem>` (workflow_api, host_server, make_workflows, make_docs, demo)."""
    return load_module(f"sa_{stem}", ROOT / "tools" / f"{stem}.py")
