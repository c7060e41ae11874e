"""docs/nodes.md is generated from the nodes; it must not drift from them."""

import os
import subprocess
import sys

import pytest
from harness import pack, pythonpath
from make_workflows import slug

ROOT = pack.ROOT


@pytest.mark.needs("the main leg")
def test_node_reference_matches_the_nodes(tmp_path):
    # a fresh process in an empty folder: model lists as on a fresh install
    done = subprocess.run([sys.executable, str(ROOT / "generators" / "make_docs.py"), "--check"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": pythonpath()})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    reference = (ROOT / "docs" / "nodes.md").read_text()
    for key in pack.node_classes():
        assert f"(`{key}`)" in reference


def test_every_shipped_workflow_has_a_picture():
    """web/docs/workflows/<slug>.png: the file name without spaces, for Markdown links on the help pages."""
    names = {slug(workflow.name) for workflow in (ROOT / "workflows").glob("*.json")}
    assert names == {p.stem for p in (ROOT / "web" / "docs" / "workflows").glob("*.png")}, "run: ./run make-docs"
