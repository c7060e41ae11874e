"""A host without an optional dependency still gets every other node, and is told what to install.

Each case runs in a fresh Python: a meta-path finder makes the chosen modules unimportable (as if
not installed), the host starts, and the host's own custom-node loader loads the pack from a
custom_nodes/ folder that links the repo under a user-style folder name.
"""

import json
import os
import subprocess
import sys
import textwrap

import style_aligned
from harness import pack, pythonpath, server

ROOT = pack.ROOT
FOLDER = server.PACK_FOLDER  # a user-style clone folder name

SCRIPT = textwrap.dedent("""
    import importlib.abc, io, json, logging, os, sys
    custom_nodes, blocked = sys.argv[1], sys.argv[2].split(",")

    class NotInstalled(importlib.abc.MetaPathFinder):
        \"\"\"Blocks a module and its submodules; an entry starting with "." blocks by suffix.\"\"\"
        def find_spec(self, name, path=None, target=None):
            if any(name.endswith(b) if b.startswith(".") else (name == b or name.startswith(b + "."))
                   for b in blocked):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    log = io.StringIO()
    from harness import host

    host.start(cpu=True)
    logging.basicConfig(stream=log, level=logging.WARNING, force=True)
    registered = host.load_custom_nodes(custom_nodes)
    entry = os.path.join(custom_nodes, "__PACK__", "__init__.py")
    pack = next((m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == entry), None)
    missing = getattr(getattr(pack, "nodes", None), "MISSING_OPTIONAL", None)
    result = {"nodes": sorted(registered), "missing": missing, "log": log.getvalue()}
    speech = registered.get("StyleAlignedSpeechTranscript")
    if speech is not None:
        import torch
        result["speech_models"] = host.choices(speech, "model")
        try:
            host.call(speech, audio={"waveform": torch.rand(1, 1, 16000) * 0.2, "sample_rate": 16000}, model="small",
                      language="en", task="transcribe")
        except Exception as exc:
            result["speech_error"] = f"{type(exc).__name__}: {exc}"
    print("RESULT" + json.dumps(result))
""").replace("__PACK__", FOLDER)


def _load_without(tmp_path, blocked):
    custom_nodes = tmp_path / "custom_nodes"
    custom_nodes.mkdir()
    (custom_nodes / FOLDER).symlink_to(ROOT, target_is_directory=True)
    script = tmp_path / "load_pack.py"
    script.write_text(SCRIPT)
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"],
           "PYTHONPATH": pythonpath(), **{k: os.environ[k] for k in ("COMFYUI_PATH",) if k in os.environ}}
    proc = subprocess.run([sys.executable, str(script), str(custom_nodes), ",".join(blocked)],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT"):])
    result["log"] += proc.stdout + proc.stderr  # a failed pack may be printed as well as logged
    return result


def test_nothing_missing_in_the_test_environment():
    assert style_aligned.nodes.MISSING_OPTIONAL == {}


def test_without_whisper_every_node_registers_and_the_log_and_the_node_say_what_to_install(tmp_path):
    result = _load_without(tmp_path, ["whisper"])
    assert result["nodes"] == sorted(pack.node_classes())
    assert result["missing"] == {"openai-whisper": "Speech Transcript"}
    assert "Speech Transcript need(s) openai-whisper" in result["log"]
    assert "pip install openai-whisper" in result["log"]
    # the node stays usable in the UI (official model names offered) and says what to install when run
    assert "small" in result["speech_models"]
    assert result["speech_error"].startswith("RuntimeError") and "pip install openai-whisper" in result["speech_error"]


def test_a_bug_in_one_of_our_modules_fails_the_pack_loudly(tmp_path):
    """Only a missing optional package is tolerated; an import error in our own code (here a module
    of ours made unimportable) is not hidden behind a warning: the host reports the pack's import
    failure, naming the module, and registers none of its nodes."""
    result = _load_without(tmp_path, [".nodes.depth"])
    assert result["nodes"] == []
    assert "nodes.depth" in result["log"] and FOLDER in result["log"]
