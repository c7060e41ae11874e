"""Node registry: one module per stage, each listing its V3 node classes in `NODES`. Optional packages are
imported by the nodes only when they run, so a missing one disables only its nodes and is named at load time.
Our own modules are imported plainly: a bug in one fails the pack's import loudly instead of hiding a node.

`NODE_LIST` is what the pack's ComfyExtension gives the host (the deprecated ids included); the host reads
each node's id and display name from its schema, as `node_classes()` and `display_names()` do here.
"""

import importlib
import importlib.util
import logging
import re

from comfy_api.latest import io

log = logging.getLogger("style_aligned")

_STAGES = ("patch", "batch_prompts", "set_sampler", "reference", "blend", "multimodal", "depth", "metrics")

NODE_LIST = []
DEPRECATED = {}  # old id -> new id of the nodes kept under an old id


def deprecated_alias(old_id: str, node: type, fixed: dict | None = None) -> type:
    """A renamed node under its old id, so saved workflows still load: the same node (inputs, outputs,
    execute), its schema marked deprecated (the host's /object_info says `deprecated: true` and its frontend
    hides the node from search). `fixed`: inputs the node gained after the rename, left out of the old id (its
    saved workflows store their widgets by position, without them) and given these values."""
    fixed = dict(fixed or {})
    schema = node.define_schema()
    new_id, display = schema.node_id, schema.display_name
    kept = "" if not fixed else " with " + ", ".join(f"{name} {value}" for name, value in fixed.items())

    @classmethod
    def define_schema(cls):
        old = node.define_schema()
        old.node_id = old_id
        old.display_name = f"{display} (deprecated id)"
        old.description = (f"Deprecated id {old_id}, kept so saved workflows still load: the same node as {display} "
                           f"({new_id}){kept}; use that one in new workflows.")
        old.is_deprecated = True
        old.inputs = [i for i in old.inputs if i.id not in fixed]
        return old

    @classmethod
    def execute(cls, **inputs):
        return node.execute(**fixed, **inputs)

    # The host caches what it reads from a schema in class attributes (_DESCRIPTION, _RETURN_TYPES, ... and
    # SCHEMA); the alias starts with its own, not the new node's.
    cached = {name: None for name in dir(node) if re.fullmatch(r"_[A-Z][A-Z_]*", name)}
    return type(f"{node.__name__}DeprecatedId", (node,), {
        **cached,
        "SCHEMA": None,
        "__module__": node.__module__,
        "__doc__": node.__doc__,
        "define_schema": define_schema,
        **({"execute": execute} if fixed else {}),
        "REPLACED_BY": new_id,
        "FIXED": fixed,
        # the node's own description, with its details, on the help page
        "DETAILS": " ".join(t for t in (schema.description, getattr(node, "DETAILS", "")) if t),
    })


for _stage in _STAGES:
    _module = importlib.import_module(f".{_stage}", __name__)
    NODE_LIST.extend(_module.NODES)
    renamed = getattr(_module, "DEPRECATED_IDS", {})  # {old id: new id} of the stage's renamed nodes
    by_id = {node.define_schema().node_id: node for node in _module.NODES} if renamed else {}
    for _old, _new in renamed.items():
        NODE_LIST.append(deprecated_alias(_old, by_id[_new], getattr(_module, "DEPRECATED_FIXED", {}).get(_old)))
        DEPRECATED[_old] = _new


def node_classes() -> dict:
    """{node id: class}, as the host registers them."""
    return {node.GET_SCHEMA().node_id: node for node in NODE_LIST}


def display_names() -> dict:
    """{node id: display name}, as the host lists them."""
    return {schema.node_id: schema.display_name for schema in (node.GET_SCHEMA() for node in NODE_LIST)}


def _widget_ids(schema) -> list[str]:
    """The inputs a saved UI workflow stores by position in `widgets_values` (what NodeReplace calls
    old_widget_ids): every input with a widget, in schema order."""
    return [i.id for i in schema.inputs if isinstance(i, io.WidgetInput) and not i.force_input]


def replacements() -> list:
    """The deprecated ids as node replacements (io.NodeReplace: old id -> new id, every input of the old id mapped
    by name, the inputs it lacks set to the values it runs with, outputs by index, and its widgets in the order its
    saved workflows store them); empty on a host without the node-replacement API (v0.3.64)."""
    if not hasattr(io, "NodeReplace"):
        return []
    nodes = node_classes()
    made = []
    for old, new in DEPRECATED.items():
        old_schema, alias = nodes[old].GET_SCHEMA(), nodes[old]
        made.append(io.NodeReplace(
            new_node_id=new, old_node_id=old, old_widget_ids=_widget_ids(old_schema),
            input_mapping=[{"new_id": i.id, "old_id": i.id} for i in old_schema.inputs]
            + [{"new_id": name, "set_value": value} for name, value in alias.FIXED.items()],
            output_mapping=[{"new_idx": n, "old_idx": n} for n in range(len(old_schema.outputs))]))
    return made


async def register_replacements() -> list[str]:
    """Registers `replacements()` with a host that has the node-replacement API (v0.28's
    `ComfyAPI.node_replacement`), so its frontend can swap the old nodes of saved workflows for the new ones;
    the old ids stay registered as deprecated nodes either way. The old ids registered: none on a host without
    the API, or without a running server (the pack loaded by a script)."""
    made = replacements()
    if not made:
        return []
    from comfy_api.latest import ComfyAPI

    api = ComfyAPI()
    if not hasattr(api, "node_replacement"):
        return []
    done = []
    for replace in made:
        try:
            await api.node_replacement.register(replace)
        except Exception as exc:  # noqa: BLE001  (no server to register with: nothing to tell the user)
            log.debug("Style Aligned: node replacements not registered: %s", exc)
            break
        done.append(replace.old_node_id)
    return done


# Optional packages the nodes import only when they run: checked here without importing them, so
# a missing one is named at load time (every node still registers; using it says the same).
_OPTIONAL = {
    "whisper": ("openai-whisper", "Speech Transcript"),
    "transformers": ("transformers", "Image Caption, Music Mood, Depth Map and the metric nodes"),
    "matplotlib": ("matplotlib", "the metric nodes' charts"),
    "requests": ("requests", "Weather Phrase"),
    "soxr": ("soxr", "Speech Transcript and Music Mood on audio of another sample rate"),
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
