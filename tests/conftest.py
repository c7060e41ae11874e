"""Test harness: the real ComfyUI test host (CPU) and the pack loaded the way the host loads it.

Never put the repo root on sys.path: our `nodes/` would shadow the host's top-level `nodes`.
The pack is loaded by path under the fixed package name `style_aligned`; helpers live in
`tests/support.py`, loaded as `sa_support`.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load(name, path, package_dir=None):
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(package_dir)] if package_dir else None
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _start_host():
    from comfy.cli_args import args

    args.cpu = True
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


_start_host()
_load("sa_support", ROOT / "tests" / "support.py")
_load("style_aligned", ROOT / "__init__.py", ROOT)
