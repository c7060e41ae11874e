import style_aligned
from harness import host, pack


def test_pack_exports_its_v3_entry_point_and_no_classic_mappings():
    """The host reads a pack's NODE_CLASS_MAPPINGS before its comfy_entrypoint: exporting both would hide the
    V3 nodes, so the pack exports only the entry point (and its web folder)."""
    assert callable(style_aligned.comfy_entrypoint) and style_aligned.WEB_DIRECTORY == "./web"
    assert not hasattr(style_aligned, "NODE_CLASS_MAPPINGS")
    assert not hasattr(style_aligned, "NODE_DISPLAY_NAME_MAPPINGS")
    classes = pack.node_classes()
    assert len(classes) == 22 and all(host.is_v3(cls) for cls in classes.values())
    assert set(pack.display_names()) == set(classes)


# Every node id a saved workflow may name (the design card's ids and the deprecated ids kept for old workflows): a
# pack that registers none of them, or loses one, fails here.
NODE_IDS = {
    "StyleAlignedPatchModel", "StyleAlignedBatchPrompts", "DDIMInvertReference", "SaveStyleReference",
    "LoadStyleReference", "MultiRefBlend", "MultimodalCaption", "StyleAlignedImageCaption", "StyleAlignedMusicMood",
    "StyleAlignedSpeechTranscript", "StyleAlignedWeatherPhrase", "StyleAlignedPromptFusion",
    "StyleAlignedPromptFusionList", "StyleAlignedDepthMap", "WeightedDinoScore", "DinoSetConsistency",
    "ClipTextAlignment", "StyleAlignedWeightedDinoScore", "StyleAlignedDinoSetConsistency",
    "StyleAlignedClipTextAlignment", "StyleAlignedSetSampler", "StyleAlignedSetSamplerCustom",
}


def test_every_node_id_is_registered_with_a_display_name():
    classes, names = pack.node_classes(), pack.display_names()
    assert NODE_IDS <= set(classes), f"not registered: {sorted(NODE_IDS - set(classes))}"
    assert all(names.get(node_id) for node_id in NODE_IDS), "a node id without a display name"
