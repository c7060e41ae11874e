"""What every node shares on ComfyUI's V3 schema (comfy_api.latest): text and progress shown on the node,
and the few schema features that differ between the hosts the pack supports (v0.3.64 and newer).

Feature detection only, never version numbers: a host whose inputs take `advanced` (v0.28) folds those
inputs on the node; an older host shows them like the others.
"""

import inspect

from comfy_api.latest import io, ui

# Inputs a user rarely changes: `**ADVANCED` in an input's arguments. The frontend of a host that knows
# `advanced` shows them under the node's "advanced inputs" toggle; older hosts get plain inputs.
ADVANCED = {"advanced": True} if "advanced" in inspect.signature(io.Input.__init__).parameters else {}


def progress_bar(total: int):
    """A callback progress(done, total) that drives the host's progress bar."""
    import comfy.utils

    bar = comfy.utils.ProgressBar(max(1, total))
    return lambda done, count: bar.update_absolute(done, count)


def shown(result: tuple, lines: list[str]) -> io.NodeOutput:
    """The node's outputs, with text shown on the node (empty lines dropped)."""
    return io.NodeOutput(*result, ui=ui.PreviewText("\n".join(line for line in lines if line)))


def shown_text(output: io.NodeOutput) -> str:
    """The text a node output shows on the node ("" if none)."""
    shown_ui = output.ui.as_dict() if hasattr(output.ui, "as_dict") else (output.ui or {})
    return "\n".join(str(text) for text in shown_ui.get("text", ()))


def outputs(*specs) -> list:
    """V3 outputs from (type, name or None, tooltip[, id]): the name is the output's label (and its id, unless
    one is given: older hosts refuse an output id that is also an input's); without a name the host labels the
    output with its type, as a classic node without RETURN_NAMES."""
    made = []
    for kind, name, tip, *given_id in specs:
        made.append(kind.Output(given_id[0] if given_id else name, display_name=name, tooltip=tip) if name
                    else kind.Output(tooltip=tip))
    return made
