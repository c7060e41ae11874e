"""Tests in a real ComfyUI host: upstream ComfyUI from COMFYUI_PATH (see harness.host; ./run sets it to the main
host, v0.28.0, then to the compatibility host, v0.3.64). A test marked `needs("feature")` is skipped, with the
reason, on a host without it."""

import pytest
from harness import host, pack

host.start(cpu=True)
pack.load()


def pytest_collection_modifyitems(items):
    for item in items:
        for marker in item.iter_markers("needs"):
            reason = host.missing(marker.args[0])
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
