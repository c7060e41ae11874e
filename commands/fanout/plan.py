"""What a fan-out run will do, checked before anything is queued: the prompt list, the workflow as
an API prompt, the windows, the image output node, and every server's fitness (it answers, it is
ComfyUI, it has the pack and every node the workflow uses, it lists the saved style references).

Every problem found here is a `FanoutError` whose message says what to fix; nothing has been
queued and nothing written when it is raised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import workflow as wf
from .comfy_client import ComfyServer, ServerGoneError, WindowFailedError

BATCH_NODE = "StyleAlignedBatchPrompts"
LOAD_REFERENCE = "LoadStyleReference"
IMAGE_OUTPUTS = ("SaveImage", "PreviewImage")
SEED_INPUTS = ("seed", "noise_seed")
# Nodes every ComfyUI lists in /object_info: a server without them is something else.
STOCK_NODES = ("KSampler", "SaveImage")
# The batch node's inputs fan-out writes, with their types: a pack of another version may lack or change them.
BATCH_INPUTS = {"prompts": "STRING", "window_start": "INT", "window_size": "INT"}


class FanoutError(Exception):
    """Bad input or an unfit server: the message says what to fix. Nothing was queued."""


@dataclass(frozen=True)
class Window:
    index: int
    start: int  # window_start on the batch node (0 = the first target, list position 1)
    size: int  # window_size on the batch node

    @property
    def positions(self) -> list[int]:
        """List positions of this window's targets (the reference, position 0, comes with every window)."""
        return list(range(self.start + 1, self.start + self.size + 1))


@dataclass
class Plan:
    prompts: list[str]
    api: dict  # the workflow as an API prompt, prompts written into the batch node
    batch_node: str
    output_node: str
    windows: list[Window]
    servers: list[ComfyServer]
    seed: int | dict | None
    digest: str  # what a resumed run must match: workflow, prompts, window size, output node
    references: list[str] = field(default_factory=list)

    def window_prompt(self, window: Window) -> dict:
        prompt = json.loads(json.dumps(self.api))
        prompt[self.batch_node]["inputs"].update(window_start=window.start, window_size=window.size)
        return prompt


# ---------------------------------------------------------------- local input


def read_prompts(path) -> list[str]:
    """One prompt per non-empty line (as the batch node reads them); the first is the reference.
    utf-8-sig: a byte-order mark (Windows editors write one) is not part of the reference prompt."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FanoutError(f"cannot read the prompt list {path}: {exc}") from None
    prompts = [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        raise FanoutError(f"the prompt list {path} is empty: write one prompt per line, the first line is the "
                          "style reference")
    return prompts


def read_workflow(path) -> tuple[dict, str]:
    """(workflow, "ui" or "api")."""
    try:
        workflow = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FanoutError(f"cannot read the workflow {path}: {exc}") from None
    if isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list) and all(
            isinstance(n, dict) for n in workflow["nodes"]):
        return workflow, "ui"
    if isinstance(workflow, dict) and workflow and all(
            isinstance(n, dict) and isinstance(n.get("class_type"), str) and isinstance(n.get("inputs"), dict)
            for n in workflow.values()):
        return workflow, "api"
    raise FanoutError(f"{path} is not a ComfyUI workflow: expected the UI format (saved from the menu, with "
                      "'nodes' and 'links') or the API format (Export (API): {id: {class_type, inputs}})")


def node_types(workflow: dict, kind: str) -> list[str]:
    if kind == "ui":
        return [n.get("type") for n in workflow["nodes"] if n.get("mode") not in (wf.MODE_MUTED, wf.MODE_BYPASSED)]
    return [n["class_type"] for n in workflow.values()]


def make_windows(count: int, window_size: int) -> list[Window]:
    """Windows over the targets (positions 1..count-1); one window of the reference alone for a list of one."""
    targets = count - 1
    if targets == 0:
        return [Window(0, 0, 0)]
    return [Window(i, start, min(window_size, targets - start))
            for i, start in enumerate(range(0, targets, window_size))]


def check_local(workflow_path, prompts_path, window_size: int) -> tuple[dict, str, list[str]]:
    if not isinstance(window_size, int) or window_size < 1:
        raise FanoutError(f"window size must be 1 or more (targets per batch besides the reference), got "
                          f"{window_size}")
    workflow, kind = read_workflow(workflow_path)
    count = node_types(workflow, kind).count(BATCH_NODE)
    if count != 1:
        what = "has no" if count == 0 else f"has {count}"
        raise FanoutError(f"the workflow {workflow_path} {what} Style Aligned Batch Prompts node "
                          f"({BATCH_NODE}); fan-out needs exactly one: it writes the prompt list and each "
                          "window's window_start/window_size into it")
    return workflow, kind, read_prompts(prompts_path)


# ---------------------------------------------------------------- servers


def probe(server: ComfyServer) -> tuple[dict | None, str | None]:
    """(object_info, None) for a ComfyUI server, else (None, why not)."""
    try:
        info = server.object_info()
    except ServerGoneError:
        return None, f"{server.url} does not answer (is the server running, and is the URL right?)"
    except WindowFailedError as exc:
        return None, f"{server.url} is not a ComfyUI server ({exc}; expected node specs at /object_info)"
    if not isinstance(info, dict) or not all(name in info for name in STOCK_NODES):
        return None, f"{server.url} is not a ComfyUI server (its /object_info does not list {', '.join(STOCK_NODES)})"
    return info, None


def spec_problem(spec) -> str | None:
    """Why a node spec is not in /object_info's shape {"input": {"required": {name: [type, {options}]}}}."""
    if not isinstance(spec, dict) or not isinstance(spec.get("input"), dict):
        return "not an object with an 'input' object"
    for section in ("required", "optional"):
        group = spec["input"].get(section)
        if group is None:
            continue
        if not isinstance(group, dict):
            return f"its {section} inputs are not an object"
        bad = [name for name, entry in group.items() if not isinstance(entry, list) or not entry]
        if bad:
            return f"inputs {', '.join(bad)} are not [type, options] lists"
    return None


def malformed_specs(url: str, info: dict, types) -> str | None:
    """A message when the specs of the node types the run uses are not in /object_info's shape (fan-out reads
    them to convert UI workflows and to check the batch node), else None."""
    problems = [f"{kind}: {why}" for kind in sorted(set(types) & set(info)) if (why := spec_problem(info[kind]))]
    if not problems:
        return None
    return (f"{url}'s /object_info is malformed ({'; '.join(problems)}): is it ComfyUI, and does a custom node "
            "there break its node list? Check that server's log, or leave it out of --server")


def spec_inputs(spec: dict) -> dict:
    """{input name: spec entry}, required and optional alike."""
    return {name: entry for name, entry, _required in wf.all_inputs(spec)}


def batch_node_problem(url: str, spec: dict) -> str | None:
    """A message when the server's batch node lacks an input fan-out writes, or has it with another type."""
    inputs = spec_inputs(spec)
    wrong = [f"{name} ({kind})" for name, kind in BATCH_INPUTS.items()
             if name not in inputs or wf.input_type(inputs[name]) != kind]
    if not wrong:
        return None
    return (f"{url}: its Style Aligned Batch Prompts node ({BATCH_NODE}) is another version of the pack: it lacks "
            f"the input(s) {', '.join(wrong)} that fan-out sets for each window; update the Style Aligned Suite in "
            "that ComfyUI's custom_nodes to this version and restart it")


def reference_choices(info: dict) -> list:
    try:
        return wf.combo_options(info[LOAD_REFERENCE]["input"]["required"]["reference"])  # a list or a V3 COMBO
    except (KeyError, IndexError, TypeError, AttributeError):
        return []


def find_output_node(api: dict, wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in api:
            raise FanoutError(f"--output-node {wanted}: no node with that id in the workflow (ids: {sorted(api)})")
        return wanted
    for kind in IMAGE_OUTPUTS:
        found = sorted(i for i, n in api.items() if n["class_type"] == kind)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise FanoutError(f"the workflow has {len(found)} {kind} nodes ({', '.join(found)}): say which one "
                              "saves the set with --output-node ID")
    raise FanoutError("the workflow has no SaveImage or PreviewImage node: add one after the VAE Decode of the "
                      "set (or name the image output node with --output-node ID)")


def seeds(api: dict):
    """The sampler seed(s) of the workflow (nodes that sample a latent, or RandomNoise): one value, or
    {node id: seed} when there are several; None when the seed comes from another node."""
    samplers = {i: n for i, n in api.items() if "latent_image" in n["inputs"] or n["class_type"] == "RandomNoise"}
    found = {i: n["inputs"][k] for i, n in sorted(samplers.items()) for k in SEED_INPUTS
             if isinstance(n["inputs"].get(k), int) and not isinstance(n["inputs"].get(k), bool)}
    if not found:
        return None
    return next(iter(found.values())) if len(found) == 1 else found


def check_specs(infos: dict, types) -> None:
    """Every server's specs of the node types the run uses are readable, and its batch node is this version's."""
    problems = [why for url, info in infos.items() if (why := malformed_specs(url, info, (*types, BATCH_NODE))
                                                       or batch_node_problem(url, info[BATCH_NODE]))]
    if problems:
        raise FanoutError("cannot use every server:\n  " + "\n  ".join(problems))


def prepare(workflow_path, prompts_path, urls, window_size: int, output_node: str | None = None,
            http_timeout: float = 30.0) -> Plan:
    """Check everything and build the plan; raises FanoutError naming every problem found."""
    workflow, kind, prompts = check_local(workflow_path, prompts_path, window_size)
    if not urls:
        raise FanoutError("no server: give at least one ComfyUI server URL (--server http://HOST:PORT)")
    try:
        servers = [ComfyServer(u, timeout=http_timeout) for u in urls]
    except ValueError as exc:
        raise FanoutError(str(exc)) from None
    seen = [s.url for s in servers]
    twice = sorted({u for u in seen if seen.count(u) > 1})
    if twice:
        raise FanoutError(f"server given more than once: {', '.join(twice)}")

    infos, problems = {}, []
    for server in servers:
        info, why = probe(server)
        if why:
            problems.append(why)
        else:
            infos[server.url] = info
    if problems:
        raise FanoutError("cannot use every server:\n  " + "\n  ".join(problems))
    without_pack = [u for u, info in infos.items() if BATCH_NODE not in info]
    if without_pack:
        raise FanoutError(f"no Style Aligned Suite on {', '.join(without_pack)} ({BATCH_NODE} is not in its "
                          "/object_info): install the pack in that ComfyUI's custom_nodes and restart it")
    check_specs(infos, node_types(workflow, kind))

    first = infos[servers[0].url]
    if kind == "ui":
        try:
            api = wf.to_api(workflow, first)
        except (wf.WorkflowError, KeyError, IndexError, TypeError, AttributeError) as exc:  # a hand-edited file
            raise FanoutError(f"cannot convert the UI workflow {workflow_path} with {servers[0].url}'s node specs: "
                              f"{exc}") from None
    else:
        api = json.loads(json.dumps(workflow))
    batch_node = next(i for i, n in api.items() if n["class_type"] == BATCH_NODE)
    inputs = api[batch_node]["inputs"]
    if isinstance(inputs.get("prompts"), list):
        raise FanoutError(f"the batch prompts node {batch_node} takes its prompts from another node: fan-out writes "
                          "the prompt list into the node's own 'prompts' text, so disconnect that input")
    inputs["prompts"] = "\n".join(prompts)
    limit = wf.input_options(spec_inputs(first[BATCH_NODE])["window_size"]).get("max")
    if isinstance(limit, (int, float)) and limit and window_size > limit:
        raise FanoutError(f"window size {window_size} is above the batch node's maximum {limit}")
    output = find_output_node(api, output_node)

    lacking = {u: sorted({n["class_type"] for n in api.values()} - set(info)) for u, info in infos.items()}
    lacking = {u: names for u, names in lacking.items() if names}
    if lacking:
        raise FanoutError("nodes of the workflow missing on some servers (install those node packs there):\n  "
                          + "\n  ".join(f"{u}: {', '.join(names)}" for u, names in lacking.items()))

    references = sorted({n["inputs"].get("reference") for n in api.values()
                         if n["class_type"] == LOAD_REFERENCE and isinstance(n["inputs"].get("reference"), str)})
    missing = []
    for name in references:
        without = [u for u, info in infos.items() if name not in reference_choices(info)]
        if without:
            missing.append(f"{name!r} is not listed by {', '.join(without)}")
    if missing:
        raise FanoutError("every server must use the same saved style reference; copy the file into "
                          "models/style_references on each server (no restart needed):\n  " + "\n  ".join(missing))

    digest = hashlib.sha256(json.dumps({"workflow": workflow, "prompts": prompts, "window_size": window_size,
                                        "output_node": output}, sort_keys=True).encode()).hexdigest()
    return Plan(prompts=prompts, api=api, batch_node=batch_node, output_node=output,
                windows=make_windows(len(prompts), window_size), servers=servers, seed=seeds(api), digest=digest,
                references=references)
