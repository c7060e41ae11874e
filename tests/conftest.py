"""Test harness: the real ComfyUI test host (CPU) and the pack loaded the way the host loads it.

The pack is loaded by path under the fixed package name `style_aligned`; helpers live in
`tests/support.py`, loaded as `sa_support` (see tests/host_boot.py).
"""

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("sa_host_boot", Path(__file__).with_name("host_boot.py"))
host_boot = importlib.util.module_from_spec(_spec)
sys.modules["sa_host_boot"] = host_boot
_spec.loader.exec_module(host_boot)

host_boot.start_host(cpu=True)
host_boot.load_support()
host_boot.load_pack()
