"""The design card's node ids, and the old ids kept as deprecated aliases so saved workflows still load."""

import pytest
from harness import host, inputs, server
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
    mappings, names = pack_nodes.NODE_CLASS_MAPPINGS, pack_nodes.NODE_DISPLAY_NAME_MAPPINGS
    assert metric_nodes.DEPRECATED_IDS == RENAMED
    assert names["WeightedDinoScore"] == "Style Aligned Weighted DINO Score"
    assert names["DinoSetConsistency"] == "Style Aligned DINO Set Consistency"
    assert names["ClipTextAlignment"] == "Style Aligned CLIP Text Alignment"
    assert mappings["MultimodalCaption"].RETURN_TYPES == ("STRING",)
    for new in RENAMED.values():
        assert not getattr(mappings[new], "DEPRECATED", False)
    deprecated = {key for key, cls in mappings.items() if getattr(cls, "DEPRECATED", False)}
    assert deprecated == set(RENAMED)


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_old_id_is_a_deprecated_alias_of_the_new_node(old):
    new = RENAMED[old]
    alias, node = pack_nodes.NODE_CLASS_MAPPINGS[old], pack_nodes.NODE_CLASS_MAPPINGS[new]
    assert issubclass(alias, node) and alias.DEPRECATED is True and alias.REPLACED_BY == new
    assert pack_nodes.NODE_DISPLAY_NAME_MAPPINGS[old] == pack_nodes.NODE_DISPLAY_NAME_MAPPINGS[new] + " (deprecated id)"
    assert alias.INPUT_TYPES() == node.INPUT_TYPES()
    for attribute in ("RETURN_TYPES", "RETURN_NAMES", "OUTPUT_TOOLTIPS", "FUNCTION", "CATEGORY"):
        assert getattr(alias, attribute) == getattr(node, attribute), attribute
    assert alias.DESCRIPTION.startswith(f"Deprecated id {old}") and new in alias.DESCRIPTION


def _defaults(cls, **given):
    spec = cls.INPUT_TYPES()
    values = {name: options["default"] for section in spec.values() for name, (_, *rest) in section.items()
              for options in rest[:1] if "default" in options}
    return {**values, **given}


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_old_id_scores_as_the_new_node(old, model_root):
    new = RENAMED[old]
    images = inputs.images(3, channels=3, seed=5)
    given = {"images": images, "model": "tiny-clip" if "Clip" in new else "tiny-dino"}
    if new == "WeightedDinoScore":
        given.update(references=inputs.images(2, seed=6), weights="3, 1")
    if new == "ClipTextAlignment":
        given.update(prompts="a cat\na dog\na bird")
    outs = []
    for key in (new, old):
        cls = pack_nodes.NODE_CLASS_MAPPINGS[key]
        node = cls()
        outs.append(getattr(node, cls.FUNCTION)(**_defaults(cls, **given)))
    assert outs[0]["result"][:2] == outs[1]["result"][:2] and outs[0]["ui"] == outs[1]["ui"]
    assert (outs[0]["result"][2] == outs[1]["result"][2]).all()
