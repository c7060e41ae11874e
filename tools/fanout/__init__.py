"""Fan-out: one style-aligned set generated across several ComfyUI servers (issue 15).

A thin client of ComfyUI's own HTTP and websocket API, not a scheduler: the prompt list is split into
windows (window_start/window_size of the Style Aligned Batch Prompts node, each window keeping the
reference as row 0 with the same noise), each server runs one window at a time, and every image is
written under its prompt's position in the list with a manifest beside it. `./run fanout --help`.

It lives in tools/, beside the demo, and not in the node pack: ComfyUI never imports it (the pack's
entry point is the repository root's __init__.py), it runs on the machine that drives the servers,
and it reads UI-format workflows with harness.workflow_api, the same pure converter (no host import)
that the demo and the tests use, rather than a second copy of the frontend's rules.

- plan.py: reading and checking the input and the servers before anything is queued
- comfy_client.py: one server's API (requests + websocket-client)
- runner.py: the windows on the servers, the output folder and its manifest
"""

from .comfy_client import ComfyServer, ServerGoneError, WindowFailedError
from .plan import FanoutError, Plan, Window, make_windows, prepare
from .runner import MANIFEST, RunFailedError, run

__all__ = ["ComfyServer", "FanoutError", "MANIFEST", "Plan", "RunFailedError", "ServerGoneError", "Window",
           "WindowFailedError", "make_windows", "prepare", "run"]
