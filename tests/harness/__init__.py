"""The development harness: the pack in a real ComfyUI host (in process or headless), tiny models
built from configs, and the inputs a user would give. Used by tests/, bench/ and generators/; none of it
ships to users. It lives beside the tests; `./run` and tests/pytest.ini put tests/, commands/ (the fan-out
client, the demo) and generators/ on sys.path, and `pythonpath()` says the same to a child process.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("tests", "commands", "generators")  # the harness, the user commands, the generators of shipped files


def pythonpath(root=ROOT, extra=None) -> str:
    """PYTHONPATH for a process that imports the harness, fanout or a generator (of the checkout at `root`)."""
    return os.pathsep.join([str(Path(root) / folder) for folder in FOLDERS] + ([extra] if extra else []))
