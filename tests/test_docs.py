"""docs/nodes.md is generated from the nodes; it must not drift from them."""

import importlib.util
from pathlib import Path

import style_aligned

ROOT = Path(__file__).resolve().parent.parent


def test_node_reference_matches_the_nodes():
    spec = importlib.util.spec_from_file_location("sa_make_docs", ROOT / "tools" / "make_docs.py")
    make_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_docs)
    expected = make_docs.nodes_markdown(style_aligned)
    assert (ROOT / "docs" / "nodes.md").read_text() == expected, "run: python tools/make_docs.py"
    for key in style_aligned.NODE_CLASS_MAPPINGS:
        assert f"(`{key}`)" in expected


def test_every_shipped_workflow_has_a_picture():
    for workflow in (ROOT / "workflows").glob("*.json"):
        assert (ROOT / "docs" / "workflows" / f"{workflow.stem}.png").is_file(), "run: python tools/make_docs.py"
