"""docs/nodes.md is generated from the nodes; it must not drift from them."""

from pathlib import Path

import sa_host_boot
import style_aligned

ROOT = Path(__file__).resolve().parent.parent


def test_node_reference_matches_the_nodes():
    make_docs = sa_host_boot.load_tool("make_docs")
    expected = make_docs.nodes_markdown(style_aligned)
    assert (ROOT / "docs" / "nodes.md").read_text() == expected, "run: python tools/make_docs.py"
    for key in style_aligned.NODE_CLASS_MAPPINGS:
        assert f"(`{key}`)" in expected


def test_every_shipped_workflow_has_a_picture():
    for workflow in (ROOT / "workflows").glob("*.json"):
        assert (ROOT / "docs" / "workflows" / f"{workflow.stem}.png").is_file(), "run: python tools/make_docs.py"
