"""Fan-out: one style-aligned set generated across several ComfyUI servers (issue 15).

A thin client of ComfyUI's own HTTP and websocket API, not a scheduler: the prompt list is split into
windows (window_start/window_size of the Style Aligned Batch Prompts node, each window keeping the
reference as row 0 with the same noise), each server runs one window at a time, and every image is
written under its prompt's position in the list with a manifest beside it. `./run fanout --help`.

It lives in commands/, beside the demo, and not in the node pack: ComfyUI never imports it (the pack's
entry point is the repository root's __init__.py), it runs on the machine that drives the servers, and
it needs only requests and websocket-client (requirements.txt; `./run fanout` builds that small
environment, no torch, no ComfyUI). It depends on nothing of the test harness: the harness re-exports
its UI-workflow converter (workflow.py) as harness.workflow_api.

- workflow.py: UI workflow -> API prompt with a server's node specs (standard library only)
- plan.py: reading and checking the input and the servers before anything is queued
- comfy_client.py: one server's API (requests + websocket-client)
- runner.py: the windows on the servers, the output folder and its manifest
"""

import importlib

# Loaded on first use, so that `fanout.workflow` (imported by the harness, the demo and the tests)
# does not pull in requests and websocket-client.
_EXPORTS = {"ComfyServer": "comfy_client", "ServerGoneError": "comfy_client", "WindowFailedError": "comfy_client",
            "FanoutError": "plan", "Plan": "plan", "Window": "plan", "make_windows": "plan", "prepare": "plan",
            "MANIFEST": "runner", "RunFailedError": "runner", "run": "runner"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
