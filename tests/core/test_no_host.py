"""core/ is the method alone: importing every one of its modules imports no part of a ComfyUI host."""

import json
import os
import subprocess
import sys

from harness import pack, pythonpath

HOST_MODULES = ("comfy", "comfy_extras", "comfy_api", "folder_paths", "nodes", "node_helpers", "latent_preview",
                "server", "execution")
SCRIPT = """
import json, pkgutil, importlib, sys
from harness import pack
core = importlib.import_module(pack.package().__name__ + ".core")
names = [m.name for m in pkgutil.walk_packages(core.__path__, core.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(m.split(".")[0] for m in sys.modules)}))
"""


def test_core_imports_no_host_module():
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env,
                          cwd=pack.ROOT / "commands")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert len(result["modules"]) >= 15  # every module of core/ was imported
    assert not set(HOST_MODULES) & set(result["loaded"]), set(HOST_MODULES) & set(result["loaded"])
