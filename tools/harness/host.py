"""A real ComfyUI host in this process, and the pack loaded into it.

The host is upstream ComfyUI from the checkout named by COMFYUI_PATH: `./run` sets it to the main host (v0.28.0,
the one users run) or the compatibility host (v0.3.64). Tests, benchmarks and tools call `start()`, then
`pack.load()` for the pack.
"""

import asyncio
import atexit
import contextlib
import importlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from . import pack

ENV = "COMFYUI_PATH"
_MARKERS = ("main.py", "nodes.py", "folder_paths.py", "comfy")
_state = {}


def checkout():
    """The upstream checkout named by COMFYUI_PATH, checked."""
    value = os.environ.get(ENV)
    if not value:
        raise RuntimeError(f"no host: {ENV} is not set. Use ./run, which finds one, or set {ENV} to a ComfyUI "
                           "checkout (v0.3.64 or newer).")
    path = Path(value).expanduser().resolve()
    missing = [name for name in _MARKERS if not (path / name).exists()]
    if missing:
        raise RuntimeError(f"{ENV}={value} is not a ComfyUI checkout: expected {', '.join(_MARKERS)} in it, "
                           f"missing {', '.join(missing)}. Point {ENV} at the folder that holds ComfyUI's main.py.")
    return path


def version():
    """The host's version as a tuple, from its comfyui_version.py ((0,) when it has none)."""
    text = (checkout() / "comfyui_version.py")
    match = re.search(r'__version__\s*=\s*"([0-9.]+)"', text.read_text()) if text.exists() else None
    return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)


def describe():
    """'ComfyUI v0.28.0 (commit 700821e1)' for the running host."""
    commit_file = checkout() / ".upstream-commit"
    commit = commit_file.read_text().strip()[:8] if commit_file.exists() else "unknown commit"
    return f"ComfyUI v{'.'.join(map(str, version()))} ({commit})"


def start(cpu=True, pytorch_attention=False):
    """Import the host once (CPU unless told otherwise).

    The host keeps models/, input/, output/ under a temporary base directory, so a user's checkout is never
    written to. pytorch_attention: the host's SDPA kernel instead of its default choice."""
    if "started" in _state:
        return
    # `python -m ...` puts the working folder first on sys.path: from the repo root, our `nodes/`
    # would shadow the host's `nodes` module.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != pack.ROOT]
    upstream = checkout()
    sys.path.insert(0, str(upstream))
    import comfy.cli_args
    from comfy.cli_args import args

    if not Path(comfy.cli_args.__file__).resolve().is_relative_to(upstream):
        raise RuntimeError(f"`comfy` was imported from {comfy.cli_args.__file__}, not from {ENV}={upstream}: "
                           "use an environment without the installable comfyui package")
    args.cpu = cpu
    args.use_pytorch_cross_attention = pytorch_attention
    args.base_directory = tempfile.mkdtemp(prefix="style-aligned-host-")
    atexit.register(shutil.rmtree, args.base_directory, ignore_errors=True)
    import comfy.model_management  # noqa: F401  (after args.cpu)

    # as main.py does before anything imports nodes.py, which puts comfy/ first on sys.path (where
    # comfy/utils.py would then be found as the top-level `utils` the server imports from)
    importlib.import_module("utils.extra_config")
    _state["started"] = describe()


# ---------------------------------------------------------------- what the host offers

def leg():
    """Which leg of `./run test` this is: "main" (the pinned v0.28.0, or your COMFYUI_PATH) or "compat" (v0.3.64)."""
    return os.environ.get("STYLE_ALIGNED_LEG", "main")


FEATURES = {
    # generated files (workflows/, docs/) list the main host's own choices (its schedulers, its node ids), and
    # the browser test drives the main host's web UI (frontend 1.45): both are checked on the main leg
    "the main leg": lambda: leg() == "main",
}


def missing(feature):
    """None when the running host has `feature` (a key of FEATURES), else why a test cannot run."""
    return None if FEATURES[feature]() else f"{describe()} ({leg()} leg) has no {feature}"


def stock_nodes():
    """Every stock node class of the host, comfy_extras included (what its server lists)."""
    if "stock" not in _state:
        import nodes

        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
        _state["stock"] = dict(nodes.NODE_CLASS_MAPPINGS)
    return _state["stock"]


def load_custom_nodes(folder):
    """The host's own custom-node loader over `folder` (a custom_nodes/ folder): {node id: class} of
    what it registered."""
    import nodes

    before = set(nodes.NODE_CLASS_MAPPINGS)
    for entry in sorted(Path(folder).iterdir()):
        asyncio.run(nodes.load_custom_node(str(entry)))
    return {k: v for k, v in nodes.NODE_CLASS_MAPPINGS.items() if k not in before}


def extra_nodes(stem):
    """A module of the host's comfy_extras node files (e.g. "nodes_custom_sampler")."""
    return importlib.import_module(f"comfy_extras.{stem}")


# ---------------------------------------------------------------- calling nodes as the host does

def node_defaults(node_class, **overrides):
    """The widget defaults of a classic node (as a freshly added node has them), with overrides."""
    values = {}
    for section in ("required", "optional"):
        for input_name, spec in node_class.INPUT_TYPES().get(section, {}).items():
            options = spec[1] if len(spec) > 1 else {}
            if isinstance(spec[0], list):
                values[input_name] = options.get("default", spec[0][0])
            elif "default" in options:
                values[input_name] = options["default"]
    values.update(overrides)
    return values


def run_node_shown(node_class, **inputs):
    """Call a node the way the host does, its FUNCTION with widget defaults filled in: (its outputs,
    the text it shows on the node, "" if none)."""
    node = node_class()
    out = getattr(node, node_class.FUNCTION)(**node_defaults(node_class, **inputs))
    if isinstance(out, dict):
        return tuple(out.get("result", ())), "\n".join(out.get("ui", {}).get("text", []))
    return out, ""


def run_node(node_class, **inputs):
    """The outputs of a node called the way the host does (see run_node_shown)."""
    return run_node_shown(node_class, **inputs)[0]


@contextlib.contextmanager
def model_folder(kind, path, extensions=(".safetensors",)):
    """Inside: the host's models/<kind> search list starts with `path`; restored on exit."""
    import folder_paths

    kind = getattr(folder_paths, "map_legacy", lambda k: k)(kind)  # upstream lists "clip" as "text_encoders"
    names = folder_paths.folder_names_and_paths
    if kind not in names:
        names[kind] = ([], set(extensions))
    names[kind][0].insert(0, str(path))
    try:
        yield Path(path)
    finally:
        names[kind][0].remove(str(path))
