"""The design card's node ids, and the old ids kept as deprecated aliases so saved workflows still load (and, on
a host with the node-replacement API, registered as replacements by the new ids)."""

import pytest
from harness import host, inputs, pack, server
from harness import workflow_api as wf
from style_aligned import nodes as pack_nodes
from style_aligned.nodes import metrics as metric_nodes

RENAMED = {"StyleAlignedWeightedDinoScore": "WeightedDinoScore",
           "StyleAlignedDinoSetConsistency": "DinoSetConsistency",
           "StyleAlignedClipTextAlignment": "ClipTextAlignment"}


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("alias_models")
    server.write_tiny_pretrained(root, kinds=("dino", "clip"))
    with host.model_folder("dino", root / "dino"), host.model_folder("clip", root / "clip"):
        yield root


def test_design_card_ids_are_registered_with_todays_display_names():
    mappings, names = pack.node_classes(), pack.display_names()
    assert metric_nodes.DEPRECATED_IDS == RENAMED == pack_nodes.DEPRECATED
    assert names["WeightedDinoScore"] == "Style Aligned Weighted DINO Score"
    assert names["DinoSetConsistency"] == "Style Aligned DINO Set Consistency"
    assert names["ClipTextAlignment"] == "Style Aligned CLIP Text Alignment"
    assert list(mappings["MultimodalCaption"].RETURN_TYPES) == ["STRING"]
    for new in RENAMED.values():
        assert not mappings[new].DEPRECATED
    deprecated = {key for key, cls in mappings.items() if cls.DEPRECATED}
    assert deprecated == set(RENAMED)


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_old_id_is_a_deprecated_alias_of_the_new_node(old):
    new = RENAMED[old]
    mappings, names = pack.node_classes(), pack.display_names()
    alias, node = mappings[old], mappings[new]
    assert issubclass(alias, node) and alias.DEPRECATED is True and alias.REPLACED_BY == new
    assert alias.GET_SCHEMA().is_deprecated and not node.GET_SCHEMA().is_deprecated
    assert names[old] == names[new] + " (deprecated id)"
    # the new node's inputs, less those it gained after the rename (the old id runs with fixed values for them)
    assert alias.FIXED == metric_nodes.DEPRECATED_FIXED.get(old, {})
    assert alias.INPUT_TYPES() == {section: {name: entry for name, entry in group.items() if name not in alias.FIXED}
                                   for section, group in node.INPUT_TYPES().items()}
    for attribute in ("RETURN_TYPES", "RETURN_NAMES", "OUTPUT_TOOLTIPS", "FUNCTION", "CATEGORY"):
        assert getattr(alias, attribute) == getattr(node, attribute), attribute
    assert alias.DESCRIPTION.startswith(f"Deprecated id {old}") and new in alias.DESCRIPTION
    assert all(f"{name} {value}" in alias.DESCRIPTION for name, value in alias.FIXED.items())
    assert node.DESCRIPTION in alias.DETAILS  # the help page of the old id tells what the node does


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_old_id_scores_as_the_new_node(old, model_root):
    new = RENAMED[old]
    images = inputs.images(3, channels=3, seed=5)
    given = {"images": images, "model": "tiny-clip" if "Clip" in new else "tiny-dino"}
    if new == "WeightedDinoScore":
        given.update(references=inputs.images(2, seed=6), weights="3, 1")
    if new == "ClipTextAlignment":
        given.update(prompts="a cat\na dog\na bird")
    outs = [host.call(pack.node_classes()[key], **host.node_defaults(pack.node_classes()[key], **given))
            for key in (new, old)]
    assert outs[0]["result"][:2] == outs[1]["result"][:2] and outs[0]["ui"] == outs[1]["ui"]
    assert (outs[0]["result"][2] == outs[1]["result"][2]).all()


def test_the_old_set_consistency_id_keeps_the_widget_layout_of_its_saved_workflows():
    """Every workflow saved with StyleAlignedDinoSetConsistency stores [model, hub_id, batch_size]: protocol and
    reference_rows came later, before model. The old id keeps that layout and scores every image (the paper
    protocol), as the node did under that id."""
    spec = wf.specs_from_classes(pack.node_classes())["StyleAlignedDinoSetConsistency"]
    assert [name for name, _ in wf.widget_inputs(spec)] == ["model", "hub_id", "batch_size"]
    assert metric_nodes.DEPRECATED_FIXED == {"StyleAlignedDinoSetConsistency": {"protocol": "paper",
                                                                                "reference_rows": 0}}


def test_old_ids_are_node_replacements_where_the_host_has_the_api():
    """v0.28 takes node replacements (io.NodeReplace; its frontend offers to swap a replaced node in a loaded
    workflow): each old id maps to its new id, every input of the old id by name (the inputs it lacks set to the
    values it runs with) and every output by index, its widgets listed in the order its saved workflows store
    their values. v0.3.64 has no such API: none are made there, and the old ids load as deprecated nodes on
    both hosts."""
    from comfy_api.latest import io

    made = {replace.old_node_id: replace.as_dict() for replace in pack_nodes.replacements()}
    if not hasattr(io, "NodeReplace"):
        assert made == {}
        return
    assert set(made) == set(RENAMED)
    specs = wf.specs_from_classes(pack.node_classes())
    for old, new in RENAMED.items():
        entry = made[old]
        assert entry["new_node_id"] == new
        names = [name for name, _entry, _required in wf.all_inputs(specs[old])]
        fixed = metric_nodes.DEPRECATED_FIXED.get(old, {})
        assert entry["input_mapping"] == [{"new_id": name, "old_id": name} for name in names] + [
            {"new_id": name, "set_value": value} for name, value in fixed.items()]
        assert {m["new_id"] for m in entry["input_mapping"]} == {n for n, _e, _r in wf.all_inputs(specs[new])}
        assert entry["old_widget_ids"] == [name for name, _ in wf.widget_inputs(specs[old])]
        assert entry["output_mapping"] == [{"new_idx": i, "old_idx": i} for i in range(len(specs[new]["output"]))]
