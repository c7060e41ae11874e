"""A real ComfyUI host in this process, and the pack loaded into it.

Two hosts: current upstream ComfyUI from a checkout named by COMFYUI_PATH (the one users run; `./run`
resolves it), or, when COMFYUI_PATH is not set, the installable 2024 host (`comfyui==0.0.1`) of the
legacy environment. Tests, benchmarks and tools call `start()`, then `pack.load()` for the pack.
"""

import asyncio
import atexit
import contextlib
import importlib
import importlib.util
import inspect
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import pack

ENV = "COMFYUI_PATH"
_MARKERS = ("main.py", "nodes.py", "folder_paths.py", "comfy")
_state = {}


def checkout():
    """The upstream checkout named by COMFYUI_PATH, checked; None when the variable is not set."""
    value = os.environ.get(ENV)
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    missing = [name for name in _MARKERS if not (path / name).exists()]
    if missing:
        raise RuntimeError(f"{ENV}={value} is not a ComfyUI checkout: expected {', '.join(_MARKERS)} in it, "
                           f"missing {', '.join(missing)}. Point {ENV} at the folder that holds ComfyUI's main.py.")
    return path


def name():
    """'upstream' or 'legacy' (the installable 2024 host)."""
    return "upstream" if checkout() else "legacy"


def start(cpu=True, pytorch_attention=False):
    """Import the host once (CPU unless told otherwise).

    Upstream keeps models/, input/, output/ under a temporary base directory, so a user's checkout is
    never written to. pytorch_attention: the host's SDPA kernel instead of its default choice."""
    if "started" in _state:
        return
    # `python -m ...` puts the working folder first on sys.path: from the repo root, our `nodes/`
    # would shadow the host's `nodes` module.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != pack.ROOT]
    upstream = checkout()
    if upstream is not None:
        sys.path.insert(0, str(upstream))
    import comfy.cli_args
    from comfy.cli_args import args

    if upstream is not None and not Path(comfy.cli_args.__file__).resolve().is_relative_to(upstream):
        raise RuntimeError(f"`comfy` was imported from {comfy.cli_args.__file__}, not from {ENV}={upstream}: "
                           "use an environment without the installable comfyui package")
    args.cpu = cpu
    args.use_pytorch_cross_attention = pytorch_attention
    if upstream is not None:
        args.base_directory = tempfile.mkdtemp(prefix="style-aligned-host-")
        atexit.register(shutil.rmtree, args.base_directory, ignore_errors=True)
    import comfy.model_management  # noqa: F401  (after args.cpu)

    if upstream is not None:
        # as main.py does before anything imports nodes.py, which puts comfy/ first on sys.path (where
        # comfy/utils.py would then be found as the top-level `utils` the server imports from)
        importlib.import_module("utils.extra_config")
    else:
        _alias_legacy_modules()
    _state["started"] = name()


def _alias_legacy_modules():
    """The installable host keeps folder_paths, nodes, ... under comfy.cmd / comfy.nodes and aliases
    them to the top-level names before it loads a pack; do the same (upstream has them at top level)."""
    from comfy import node_helpers
    from comfy.cmd import folder_paths, latent_preview
    from comfy.nodes import base_nodes

    for short, module in {"folder_paths": folder_paths, "latent_preview": latent_preview,
                          "node_helpers": node_helpers, "nodes": base_nodes}.items():
        sys.modules.setdefault(short, module)


# ---------------------------------------------------------------- what the host offers

def _has_attention_override():
    import comfy.ldm.modules.attention as attention

    parameters = inspect.signature(attention.optimized_attention).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


FEATURES = {
    "attention override": _has_attention_override,
    "DiT models": lambda: importlib.util.find_spec("comfy.ldm.flux") is not None,
    # generated files (docs/) list the host's own choices, such as its schedulers: made on upstream
    "upstream's node lists": lambda: name() == "upstream",
    # the frontend with a node docs panel (help pages of custom nodes) ships with upstream
    "node help pages": lambda: name() == "upstream",
    # the web UI (comfyui_frontend_package) that tests/host/test_browser.py drives in headless Chromium
    "web frontend": lambda: name() == "upstream",
}


def missing(feature):
    """None when the running host has `feature` (a key of FEATURES), else why a test cannot run."""
    return None if FEATURES[feature]() else f"the {name()} host has no {feature}"


def stock_nodes():
    """Every stock node class of the host, comfy_extras included (what its server lists)."""
    if "stock" not in _state:
        if checkout() is not None:
            import nodes

            asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
            _state["stock"] = dict(nodes.NODE_CLASS_MAPPINGS)
        else:
            from comfy.nodes.package import import_all_nodes_in_workspace

            _state["stock"] = dict(import_all_nodes_in_workspace(vanilla_custom_nodes=False).NODE_CLASS_MAPPINGS)
    return _state["stock"]


def load_custom_nodes(folder):
    """The host's own custom-node loader over `folder` (a custom_nodes/ folder): {node id: class} of
    what it registered."""
    if checkout() is not None:
        import nodes

        before = set(nodes.NODE_CLASS_MAPPINGS)
        for entry in sorted(Path(folder).iterdir()):
            asyncio.run(nodes.load_custom_node(str(entry)))
        return {k: v for k, v in nodes.NODE_CLASS_MAPPINGS.items() if k not in before}
    from comfy.nodes.vanilla_node_importing import _vanilla_load_custom_nodes_2

    return dict(_vanilla_load_custom_nodes_2([str(folder)]).NODE_CLASS_MAPPINGS)


def extra_nodes(stem):
    """A module of the host's comfy_extras node files (e.g. "nodes_custom_sampler"): the installable
    host keeps them under comfy_extras.nodes, current upstream directly under comfy_extras."""
    try:
        return importlib.import_module(f"comfy_extras.nodes.{stem}")
    except ModuleNotFoundError:
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
