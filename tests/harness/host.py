"""A real ComfyUI host in this process, and the pack loaded into it.

The host is upstream ComfyUI from the checkout named by COMFYUI_PATH: `./run` sets it to the main host (v0.28.0,
the one users run) or the compatibility host (v0.3.64). Tests, benchmarks and generators call `start()`, then
`pack.load()` for the pack.
"""

import asyncio
import atexit
import contextlib
import importlib
import importlib.util
import inspect
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
    # v0.28's Qwen-Image hands the padded-text mask to attention; v0.3.64's attends to padding unmasked
    "Qwen-Image masked attention": lambda: "attn_mask" in inspect.getsource(
        importlib.import_module("comfy.ldm.qwen_image.model").Attention.forward),
    "HunyuanImage 2.1": lambda: hasattr(importlib.import_module("comfy.supported_models"), "HunyuanImage21"),
    "Kandinsky 5 Image": lambda: hasattr(importlib.import_module("comfy.supported_models"), "Kandinsky5Image"),
    "Qwen-Image-Edit 2511": lambda: "timestep_zero_index" in inspect.signature(  # its "index_timestep_zero"
        importlib.import_module("comfy.ldm.qwen_image.model").QwenImageTransformerBlock.forward).parameters,
    "FLUX.2 and LongCat-Image": lambda: all(hasattr(importlib.import_module("comfy.supported_models"), name)
                                            for name in ("Flux2", "LongCatImage")),
    "Z-Image": lambda: hasattr(importlib.import_module("comfy.supported_models"), "ZImage"),
    "Krea 2": lambda: hasattr(importlib.import_module("comfy.supported_models"), "Krea2"),
    "Boogu": lambda: hasattr(importlib.import_module("comfy.supported_models"), "Boogu"),
    "empty latents fitted by their downscale ratio": lambda: "downscale_ratio_spacial" in inspect.signature(
        importlib.import_module("comfy.sample").fix_empty_latent_channels).parameters,
}


# The host feature each tiny family needs (families both hosts have are not listed)
FAMILY_NEEDS = {"flux2": "FLUX.2 and LongCat-Image", "flux2_klein": "FLUX.2 and LongCat-Image",
                "longcat_image": "FLUX.2 and LongCat-Image", "z_image": "Z-Image", "krea2": "Krea 2",
                "boogu": "Boogu", "hunyuan_image": "HunyuanImage 2.1", "kandinsky5": "Kandinsky 5 Image",
                "qwen_image_edit_2511": "Qwen-Image-Edit 2511"}


def missing(feature):
    """None when the running host has `feature` (a key of FEATURES), else why a test cannot run."""
    return None if FEATURES[feature]() else f"needs {feature}; this is {describe()} ({leg()} leg)"


def has(feature):
    """Whether the running host has `feature` (a key of FEATURES); None, what needs nothing, it always has."""
    return feature is None or missing(feature) is None


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

def is_v3(node_class) -> bool:
    """True for a node on the V3 schema (comfy_api io.ComfyNode), False for a classic one."""
    from comfy_api.internal import _ComfyNodeInternal

    return isinstance(node_class, type) and issubclass(node_class, _ComfyNodeInternal)


def choices(node_class, input_name) -> list:
    """The options of a combo input: a classic spec's list, or a V3 COMBO's `options` (either host)."""
    for section in node_class.INPUT_TYPES().values():
        if input_name in section:
            kind, *options = section[input_name]
            if isinstance(kind, (list, tuple)):
                return list(kind)
            return list((options[0] if options else {}).get("options", []))
    raise KeyError(f"{node_class.__name__} has no input {input_name!r}")


def node_defaults(node_class, **overrides):
    """The widget defaults of a node (as a freshly added node has them), with overrides."""
    values = {}
    for section in ("required", "optional"):
        for input_name, spec in node_class.INPUT_TYPES().get(section, {}).items():
            options = spec[1] if len(spec) > 1 else {}
            if isinstance(spec[0], list) or spec[0] == "COMBO":
                listed = choices(node_class, input_name)
                if "default" in options or listed:
                    values[input_name] = options.get("default", listed[0] if listed else None)
            elif "default" in options:
                values[input_name] = options["default"]
    values.update(overrides)
    return values


def _as_classic(out) -> dict:
    """A node's return value as the host stores it: {"result": outputs, "ui": what the node shows}."""
    from comfy_api.internal import _NodeOutputInternal

    if isinstance(out, _NodeOutputInternal):
        shown = out.ui.as_dict() if hasattr(out.ui, "as_dict") else (out.ui or {})
        return {"result": tuple(out.result or ()), "ui": dict(shown)}
    if isinstance(out, dict):
        return {"result": tuple(out.get("result", ())), "ui": dict(out.get("ui", {}))}
    return {"result": tuple(out), "ui": {}}


def call(node_class, *args, **inputs) -> dict:
    """Call a node's function exactly with these inputs (positional ones in the function's order), as the
    host does: a V3 node's `execute` on a locked copy of its class, a classic node's FUNCTION on an instance.
    Returns {"result": (outputs...), "ui": {"text": [...]}} (the ui empty when the node shows nothing)."""
    if is_v3(node_class):
        from comfy_api.internal import make_locked_method_func

        node_class.VALIDATE_CLASS()  # what the host's executor does, down to the locked copy of the class
        function = make_locked_method_func(node_class, node_class.FUNCTION, node_class.PREPARE_CLASS_CLONE(None))
        signature = inspect.signature(node_class.execute)
        given = {}
        for name, value in signature.bind_partial(*args, **inputs).arguments.items():
            is_rest = signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD
            given.update(value if is_rest else {name: value})
        out = function(**given)
    else:
        out = getattr(node_class(), node_class.FUNCTION)(*args, **inputs)
    return _as_classic(out)


def run_node_shown(node_class, **inputs):
    """Call a node the way the host does, with widget defaults filled in: (its outputs, the text it shows on
    the node, "" if none)."""
    out = call(node_class, **node_defaults(node_class, **inputs))
    return out["result"], "\n".join(str(text) for text in out["ui"].get("text", []))


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
