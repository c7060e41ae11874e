"""./run with bad set-ups: a clear message naming what to set, exit code 2, nothing half-made left.

Each case runs the real script with its cache in a temporary folder and stops before any
environment is built (CI=true makes a missing upstream host a failure, as in CI)."""

import os
import subprocess

import pytest
from harness import pack

RUN = pack.ROOT / "run"


def run(tmp_path, *args, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("COMFYUI_PATH", "CI")}
    base.update(STYLE_ALIGNED_CACHE=str(tmp_path / "cache"), **env)
    return subprocess.run(["bash", str(RUN), *args], capture_output=True, text=True, timeout=120, env=base)


def fake_comfyui(folder, version="0.28.0"):
    for name in ("main.py", "nodes.py", "folder_paths.py", "requirements.txt"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("")
    (folder / "comfy").mkdir()
    if version is not None:
        (folder / "comfyui_version.py").write_text(f'__version__ = "{version}"\n')
    return folder


def leftovers(tmp_path):
    cache = tmp_path / "cache"
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []


@pytest.mark.parametrize("command", ["test", "demo"])
def test_a_comfyui_path_that_does_not_exist_names_the_variable(tmp_path, command):
    done = run(tmp_path, command, COMFYUI_PATH=str(tmp_path / "nowhere"))
    assert done.returncode == 2, done.stderr
    assert f"COMFYUI_PATH={tmp_path / 'nowhere'} does not exist" in done.stderr
    assert leftovers(tmp_path) == []


def test_a_comfyui_path_that_is_not_comfyui_says_what_was_expected(tmp_path):
    (tmp_path / "other").mkdir()
    done = run(tmp_path, "test", COMFYUI_PATH=str(tmp_path / "other"))
    assert done.returncode == 2
    assert "is not ComfyUI: expected main.py, nodes.py, folder_paths.py and comfy/ in it" in done.stderr


@pytest.mark.parametrize("version", ["0.3.63", "0.2.7", None], ids=["0.3.63", "0.2.7", "no version file"])
@pytest.mark.parametrize("command", ["test", "demo"])
def test_a_comfyui_older_than_the_oldest_supported_is_refused_before_anything_runs(tmp_path, command, version):
    host = fake_comfyui(tmp_path / "ComfyUI", version)
    done = run(tmp_path, command, COMFYUI_PATH=str(host))
    assert done.returncode == 2
    assert "Style Aligned supports ComfyUI v0.3.64 and newer" in done.stderr
    assert (version or "older than 0.3.x") in done.stderr
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("version", ["0.3.64", "0.28.0", "0.31.2"])
def test_a_supported_comfyui_gets_past_the_version_check(tmp_path, version):
    host = fake_comfyui(tmp_path / "ComfyUI", version)
    python = tmp_path / "python-that-fails"  # stop at the environment build, after the checks
    python.write_text('#!/bin/sh\nexit 1\n')
    python.chmod(0o755)
    done = run(tmp_path, "demo", COMFYUI_PATH=str(host), PYTHON=str(python))
    assert "supports ComfyUI" not in done.stderr and "could not create the environment" in done.stderr


def test_a_corrupt_snapshot_is_reported_and_nothing_unpacked_is_kept(tmp_path):
    snapshot = tmp_path / "comfyui-broken.tar.gz"
    snapshot.write_bytes(b"\x1f\x8b this is not a gzip archive")
    done = run(tmp_path, "test", CI="true", STYLE_ALIGNED_SNAPSHOT=str(snapshot))
    assert done.returncode == 2
    assert f"the snapshot {snapshot} is corrupt" in done.stderr and "set COMFYUI_PATH" in done.stderr
    assert leftovers(tmp_path) == ["hosts"]  # the empty parent folder, no half-unpacked tree


def test_no_snapshot_and_no_network_fails_in_ci_with_what_to_set(tmp_path):
    # a clone from a closed port on this machine stands in for "no network"
    done = run(tmp_path, "test", CI="true", STYLE_ALIGNED_SNAPSHOT=str(tmp_path / "absent.tar.gz"),
               STYLE_ALIGNED_UPSTREAM_URL="http://127.0.0.1:9/ComfyUI.git")
    assert done.returncode == 2
    assert "no upstream ComfyUI" in done.stderr and "Set COMFYUI_PATH" in done.stderr
    assert leftovers(tmp_path) == ["hosts"]


def test_a_failed_environment_build_is_removed_and_not_reused(tmp_path):
    host = fake_comfyui(tmp_path / "ComfyUI")
    python = tmp_path / "python-that-fails"  # `-m venv DIR` makes half an environment, then fails as pip would
    python.write_text('#!/bin/sh\n[ "$1" = -m ] || exec python3 "$@"\n'
                      'mkdir -p "$3/bin" && touch "$3/bin/python" && chmod +x "$3/bin/python"\nexit 1\n')
    python.chmod(0o755)
    for _ in range(2):  # the second run starts afresh instead of taking the broken folder
        done = run(tmp_path, "demo", COMFYUI_PATH=str(host), PYTHON=str(python))
        assert done.returncode == 2
        assert "could not create the environment" in done.stderr and "nothing was kept" in done.stderr
        assert "creating the environment" in done.stderr
        assert leftovers(tmp_path) == []
