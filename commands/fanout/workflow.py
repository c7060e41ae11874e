"""ComfyUI workflows: UI format (what the frontend saves and users load) to API format (what
`POST /prompt` takes), driven by node specs in the `/object_info` shape.

Pure standard library: the fan-out client converts users' UI workflows with it, and the demo, the
workflow generator and the tests use it through harness.workflow_api (a re-export), so there is one
copy of the frontend's rules. No host import at module level.

Node specs: `{class_type: {"input": {"required": {...}, "optional": {...}}, "output": [...],
"output_name": [...]}}`, from a running server's `GET /object_info` or from node classes in
process (`specs_from_classes`).

Frontend rules reproduced here:
- a widget is an input of type INT, FLOAT, STRING, BOOLEAN or a combo (a list of choices),
  unless it has `forceInput`; widgets are saved in `widgets_values` in the order of
  INPUT_TYPES (required, then optional), linked ("converted") widgets included;
- after an INT named `seed`/`noise_seed` (or with `control_after_generate`) the frontend saves an
  extra `control_after_generate` value ("fixed", "randomize", ...), which is not an input;
- a combo with `image_upload`/`audio_upload` is followed by the upload button's value(s);
- `Note`, `MarkdownNote` and `Reroute` exist only in the frontend; muted nodes (mode 2) are
  dropped and bypassed nodes (mode 4) pass their first input of the matching type through.
"""

from __future__ import annotations

import json

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
SEED_NAMES = ("seed", "noise_seed")
FRONTEND_ONLY = ("Note", "MarkdownNote", "Reroute", "PrimitiveNode")
CONTROL_AFTER_GENERATE = ("fixed", "increment", "decrement", "randomize")
UPLOAD_OPTIONS = ("image_upload", "audio_upload", "video_upload")
MODE_MUTED, MODE_BYPASSED = 2, 4


class WorkflowError(ValueError):
    pass


# ---------------------------------------------------------------- node specs


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def specs_from_classes(mapping: dict) -> dict:
    """Node classes -> specs in the /object_info shape. A V3 node (comfy_api io.ComfyNode) is converted by the
    host's own code (GET_NODE_INFO_V1, what its server lists); a classic node from its INPUT_TYPES and RETURN_*."""
    specs = {}
    for name, cls in mapping.items():
        if callable(getattr(cls, "GET_NODE_INFO_V1", None)) and callable(getattr(cls, "define_schema", None)):
            info = cls.GET_NODE_INFO_V1()
            specs[name] = {
                "input": {section: {k: _jsonable(v) for k, v in group.items()}
                          for section, group in info["input"].items() if section in ("required", "optional")},
                "output": _jsonable(info["output"]),
                "output_name": _jsonable(info["output_name"]),
                "output_node": bool(info["output_node"]),
            }
            if info.get("deprecated"):
                specs[name]["deprecated"] = True
            continue
        outputs = list(getattr(cls, "RETURN_TYPES", ()))
        specs[name] = {
            "input": {section: {k: _jsonable(v) for k, v in group.items()}
                      for section, group in cls.INPUT_TYPES().items() if section in ("required", "optional")},
            "output": outputs,
            "output_name": list(getattr(cls, "RETURN_NAMES", None) or outputs),
            "output_node": bool(getattr(cls, "OUTPUT_NODE", False)),
        }
        if getattr(cls, "DEPRECATED", False) is True:  # as the server's /object_info marks it
            specs[name]["deprecated"] = True
    return specs


def input_type(spec_entry) -> str:
    kind = spec_entry[0]
    return "COMBO" if isinstance(kind, list) else str(kind)


def input_options(spec_entry) -> dict:
    return spec_entry[1] if len(spec_entry) > 1 and isinstance(spec_entry[1], dict) else {}


def combo_options(spec_entry) -> list:
    """A combo's choices: the list of a classic spec, or a V3 COMBO's `options`."""
    kind = spec_entry[0]
    return list(kind) if isinstance(kind, list) else list(input_options(spec_entry).get("options") or [])


def all_inputs(spec: dict) -> list[tuple[str, list, bool]]:
    """[(name, spec entry, required)] in INPUT_TYPES order."""
    out = []
    for section in ("required", "optional"):
        for name, entry in (spec.get("input", {}).get(section) or {}).items():
            out.append((name, entry, section == "required"))
    return out


def is_widget(entry) -> bool:
    return input_type(entry) in WIDGET_TYPES and not input_options(entry).get("forceInput")


def widget_inputs(spec: dict) -> list[tuple[str, list]]:
    return [(name, entry) for name, entry, _ in all_inputs(spec) if is_widget(entry)]


def has_control_after_generate(name: str, entry) -> bool:
    options = input_options(entry)
    return input_type(entry) == "INT" and (name in SEED_NAMES or bool(options.get("control_after_generate")))


def widget_values_by_name(node: dict, spec: dict) -> dict:
    """Map a UI node's `widgets_values` list to its widget input names."""
    values = node.get("widgets_values") or []
    if isinstance(values, dict):  # some nodes save a dict already
        return dict(values)
    mapped, i = {}, 0
    for name, entry in widget_inputs(spec):
        if i >= len(values):
            break
        mapped[name] = values[i]
        i += 1
        if has_control_after_generate(name, entry) and i < len(values) and values[i] in CONTROL_AFTER_GENERATE:
            i += 1
        if any(input_options(entry).get(o) for o in UPLOAD_OPTIONS):
            while i < len(values) and (values[i] is None or values[i] in ("image", "audio", "video", "")):
                i += 1
    return mapped


def ui_widget_values(spec: dict, values: dict, seed_control: str = "fixed") -> list:
    """The inverse: the `widgets_values` list the frontend saves for these widget values."""
    out = []
    for name, entry in widget_inputs(spec):
        if name not in values:
            raise WorkflowError(f"no value for widget {name!r}")
        out.append(values[name])
        if has_control_after_generate(name, entry):
            out.append(seed_control)
        options = input_options(entry)
        if options.get("image_upload"):
            out.append("image")
        elif options.get("audio_upload"):
            out.extend([None, None])
    return out


# ---------------------------------------------------------------- UI -> API


def _links(workflow: dict) -> dict:
    links = {}
    for link in workflow.get("links", []):
        if isinstance(link, dict):
            links[link["id"]] = (link["origin_id"], link["origin_slot"], link["target_id"], link["target_slot"],
                                 link.get("type"))
        else:
            link_id, origin, origin_slot, target, target_slot, kind = link[:6]
            links[link_id] = (origin, origin_slot, target, target_slot, kind)
    return links


def to_api(workflow: dict, specs: dict) -> dict:
    """UI workflow -> API prompt {id: {"class_type", "inputs", "_meta"}}."""
    nodes = {node["id"]: node for node in workflow.get("nodes", [])}
    links = _links(workflow)

    def source(link_id, seen=()):
        """The (node id, slot) that really produces a link's value, through reroutes and bypasses."""
        if link_id not in links:
            raise WorkflowError(f"link {link_id} is not in the workflow's links")
        origin, slot, _target, _tslot, kind = links[link_id]
        if origin in seen:
            raise WorkflowError(f"link cycle through node {origin}")
        node = nodes.get(origin)
        if node is None:
            raise WorkflowError(f"link {link_id} starts at missing node {origin}")
        if node["type"] == "Reroute" or node.get("mode") == MODE_BYPASSED:
            wanted = kind or (node.get("outputs") or [{}])[slot].get("type")
            for inp in node.get("inputs") or []:
                if inp.get("link") is not None and (node["type"] == "Reroute" or inp.get("type") == wanted):
                    return source(inp["link"], (*seen, origin))
            return None
        if node.get("mode") == MODE_MUTED:
            return None
        return str(origin), slot

    prompt = {}
    for node_id, node in nodes.items():
        kind = node["type"]
        if kind in FRONTEND_ONLY or node.get("mode") in (MODE_MUTED, MODE_BYPASSED):
            continue
        if kind not in specs:
            raise WorkflowError(f"node {node_id}: unknown node type {kind!r} (missing custom node pack?)")
        spec = specs[kind]
        inputs = widget_values_by_name(node, spec)
        for inp in node.get("inputs") or []:
            if inp.get("link") is None:
                continue
            origin = source(inp["link"])
            if origin is not None:
                inputs[inp["name"]] = list(origin)
            else:
                inputs.pop(inp["name"], None)
        known = {name for name, _entry, _req in all_inputs(spec)}
        inputs = {k: v for k, v in inputs.items() if k in known}
        prompt[str(node_id)] = {"class_type": kind, "inputs": inputs,
                                "_meta": {"title": node.get("title") or kind}}
    return prompt


def load(path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# ---------------------------------------------------------------- checks


def check_value(name: str, entry, value) -> str | None:
    """Why `value` does not fit the input spec `entry`, or None if it does."""
    kind, options = input_type(entry), input_options(entry)
    if kind == "COMBO":
        listed = combo_options(entry)
        if value not in listed:
            return f"{name}: {value!r} is not one of {listed[:8]}{'...' if len(listed) > 8 else ''}"
    elif kind == "BOOLEAN":
        if not isinstance(value, bool):
            return f"{name}: {value!r} is not a bool"
    elif kind == "STRING":
        if not isinstance(value, str):
            return f"{name}: {value!r} is not a string"
    elif kind in ("INT", "FLOAT"):
        ok_types = (int,) if kind == "INT" else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            return f"{name}: {value!r} is not {kind}"
        if "min" in options and value < options["min"]:
            return f"{name}: {value} is below the minimum {options['min']}"
        if "max" in options and value > options["max"]:
            return f"{name}: {value} is above the maximum {options['max']}"
    return None
