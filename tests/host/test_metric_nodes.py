"""Metric nodes in the real host with tiny DINO and CLIP models found in the host's model folders."""

import math

import pytest
import torch
from harness import host, inputs, pack, tiny_vision
from style_aligned.core.evaluation import embeddings, metrics
from style_aligned.nodes import metrics as metric_nodes
from style_aligned.nodes import pretrained


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("metric_models")
    tiny_vision.save_tiny_dino(root / "dino" / "tiny-dino")
    tiny_vision.save_tiny_clip(root / "clip" / "tiny-clip")
    with host.model_folder("dino", root / "dino"), host.model_folder("clip", root / "clip"):
        yield root


def _check_outputs(out, node_cls):
    score, report, chart = out["result"]
    assert isinstance(score, float) and math.isfinite(score) and -1.0 <= score <= 1.0
    assert isinstance(report, str) and out["ui"]["text"][0] == report
    assert chart.dim() == 4 and chart.shape[0] == 1 and chart.shape[-1] == 3 and chart.dtype == torch.float32
    assert 0.0 <= float(chart.min()) and float(chart.max()) <= 1.0 and float(chart.std()) > 0.01
    assert len(node_cls.RETURN_TYPES) == len(out["result"]) == 3
    return score, report


def test_nodes_registered_with_tooltips(model_root):
    for cls in metric_nodes.NODES:
        name = cls.GET_SCHEMA().node_id
        assert pack.node_classes()[name] is cls and name in pack.display_names()
        assert cls.CATEGORY == "style_aligned/metrics" and cls.DESCRIPTION
        assert list(cls.RETURN_TYPES) == ["FLOAT", "STRING", "IMAGE"]
        assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_NAMES) == 3
        spec = cls.INPUT_TYPES()["required"]
        for input_name, (_, *options) in spec.items():
            assert options and options[0].get("tooltip"), f"{name}.{input_name} has no tooltip"
        choices = host.choices(cls, "model")
        assert choices[0] in (embeddings.DINO_DEFAULT, metric_nodes.PROTOCOL_MODEL)
        assert ("tiny-dino" in choices) or ("tiny-clip" in choices)  # local folders listed after hub ids


def test_weighted_score_node_matches_core_math(model_root):
    images, refs = inputs.images(3), inputs.images(2, h=50, w=50, seed=1)
    out = host.call(metric_nodes.StyleAlignedWeightedDinoScore, images, refs, "3, 1", "tiny-dino", "", 2)
    score, report = _check_outputs(out, metric_nodes.StyleAlignedWeightedDinoScore)
    bundle = embeddings.load_dino(str(model_root / "dino" / "tiny-dino"))
    expected = metrics.weighted_style_score(embeddings.dino_embeddings(bundle, images),
                                            embeddings.dino_embeddings(bundle, refs), [0.75, 0.25])
    assert score == pytest.approx(expected.score, abs=1e-5)
    assert "weights: 0.750, 0.250" in report and "3 images, 2 references" in report
    # equal weights when empty
    equal = host.call(metric_nodes.StyleAlignedWeightedDinoScore, images, refs, "", "tiny-dino", "", 8)
    assert "weights: 0.500, 0.500" in equal["result"][1]


def test_set_consistency_node(model_root):
    row = inputs.images(1, seed=4)
    node = metric_nodes.StyleAlignedDinoSetConsistency
    identical = host.call(node, row.repeat(3, 1, 1, 1), "paper", 0, "tiny-dino", "", 8)
    assert _check_outputs(identical, metric_nodes.StyleAlignedDinoSetConsistency)[0] == pytest.approx(1.0, abs=1e-5)
    mixed = host.call(node, inputs.images(4, channels=4), "paper", 0, "tiny-dino", "", 3)
    score, report = _check_outputs(mixed, metric_nodes.StyleAlignedDinoSetConsistency)
    assert score < 1.0 - 1e-4 and "4 images, 6 pairs" in report


def test_set_consistency_protocols_count_the_reference_or_not(model_root):
    images = inputs.images(4, seed=6)
    node = metric_nodes.StyleAlignedDinoSetConsistency
    paper = _check_outputs(host.call(node, images, "paper", 1, "tiny-dino", "", 8), node)
    pack = _check_outputs(host.call(node, images, "pack", 1, "tiny-dino", "", 8), node)
    targets = _check_outputs(host.call(node, images[1:], "paper", 0, "tiny-dino", "", 8), node)
    assert "4 images, 6 pairs" in paper[1] and "protocol: paper" in paper[1]
    assert "3 images, 3 pairs" in pack[1] and pack[0] == pytest.approx(targets[0], abs=1e-6)
    assert paper[0] != pytest.approx(pack[0], abs=1e-6)
    with pytest.raises(ValueError, match="reference_rows: 4 reference rows leave no target among 4 images"):
        host.call(node, images, "pack", 4, "tiny-dino", "", 8)


def test_clip_protocol_names_and_saved_style_modes(model_root):
    node = metric_nodes.StyleAlignedClipTextAlignment
    assert node.validate_inputs("paper") is True and node.validate_inputs("strip from prompt (paper)") is True
    assert "choose one of paper, pack" in node.validate_inputs("seeds")
    images = inputs.images(2, seed=5)
    saved = host.call(node, images, "a cat", "oil painting", "include in prompt", "tiny-clip", "", 2)
    paper = host.call(node, images, "a cat", "oil painting", "paper", "tiny-clip", "", 2)
    assert saved["result"][0] == paper["result"][0] and "'a cat, oil painting'" in paper["result"][1]
    with pytest.raises(ValueError, match="protocol: 'seeds' is not a metric protocol"):
        host.call(node, images, "a cat", "", "seeds", "tiny-clip", "", 2)


def test_clip_alignment_node_strips_or_includes_style(model_root):
    images = inputs.images(2, seed=5)
    node = metric_nodes.StyleAlignedClipTextAlignment
    stripped = host.call(node, images, "a cat, oil painting\na dog, oil painting", "oil painting",
                          "pack", "tiny-clip", "", 1)
    score, report = _check_outputs(stripped, metric_nodes.StyleAlignedClipTextAlignment)
    assert "'a cat'" in report and "'a dog'" in report and "oil painting" not in report
    plain = host.call(node, images, "a cat\na dog", "", "pack", "tiny-clip", "", 2)
    assert plain["result"][0] == pytest.approx(score, abs=1e-5)  # same texts once the style is removed
    included = host.call(node, images, "a cat", "oil painting", "paper", "tiny-clip", "", 2)
    assert included["result"][1].count("'a cat, oil painting'") == 2  # one line serves every image


def test_bad_input_names_the_input(model_root):
    pretrained.forget()
    weighted = metric_nodes.StyleAlignedWeightedDinoScore
    with pytest.raises(ValueError, match="images: the batch is empty"):
        host.call(weighted, torch.zeros(0, 8, 8, 3), inputs.images(2), "", "tiny-dino", "", 8)
    with pytest.raises(ValueError, match="weights: 3 weight.*for 2 reference"):
        host.call(weighted, inputs.images(2), inputs.images(2), "0.5, 0.3, 0.2", "tiny-dino", "", 8)
    with pytest.raises(ValueError, match="weights: NaN or infinite"):
        host.call(weighted, inputs.images(2), inputs.images(2), "nan, 1", "tiny-dino", "", 8)
    with pytest.raises(ValueError, match="weights: 'x' is not a number"):
        host.call(weighted, inputs.images(2), inputs.images(2), "1, x", "tiny-dino", "", 8)
    with pytest.raises(ValueError, match="images: .*two are needed; got 1"):
        host.call(metric_nodes.StyleAlignedDinoSetConsistency, inputs.images(1), "paper", 0, "tiny-dino", "", 8)
    with pytest.raises(ValueError, match="prompts: 2 prompt lines for 3 images"):
        host.call(metric_nodes.StyleAlignedClipTextAlignment, inputs.images(3), "a\nb", "", "pack", "tiny-clip", "", 8)
    # all of these fail before any model is loaded
    assert pretrained.loaded("dino") is None and pretrained.loaded("clip") is None
    with pytest.raises(RuntimeError, match="not found in .* could not be downloaded"):
        host.call(metric_nodes.StyleAlignedDinoSetConsistency, inputs.images(2), "paper", 0, "tiny-dino",
                  "nobody/absent-dino", 8)


def test_non_finite_images_are_refused_not_scored(model_root):
    """NaN images used to give a perfect set consistency of 1.0."""
    images = inputs.images(3)
    images[1, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="images: contains NaN or infinite values"):
        host.call(metric_nodes.StyleAlignedDinoSetConsistency, images, "paper", 0, "tiny-dino", "", 8)
    with pytest.raises(ValueError, match="references: contains NaN"):
        host.call(metric_nodes.StyleAlignedWeightedDinoScore, inputs.images(2), images, "", "tiny-dino", "", 8)


def test_an_empty_or_wrong_kind_folder_for_dino_is_a_clear_error(model_root, tmp_path):
    """A CLIP folder chosen as the DINO model used to fail inside the model ('You have to specify
    input_ids'); an empty folder failed inside transformers."""
    (tmp_path / "empty-dino").mkdir()
    with host.model_folder("dino", root := model_root / "clip"), host.model_folder("dino", tmp_path):
        with pytest.raises((ValueError, RuntimeError), match="not an image-only ViT; choose a DINO model"):
            host.call(metric_nodes.StyleAlignedDinoSetConsistency, inputs.images(2), "paper", 0, "tiny-clip", "", 8)
        with pytest.raises(RuntimeError, match="could not load the dino model 'empty-dino'"):
            host.call(metric_nodes.StyleAlignedDinoSetConsistency, inputs.images(2), "paper", 0, "empty-dino", "", 8)
    assert root.exists()


def test_helper_models_are_under_the_hosts_model_management(model_root):
    """A metric node's and a caption node's models are ModelPatchers the host lists as loaded; the
    host's "Unload models" (unload_all_models) takes them off its list, and the next run loads them
    again through the host."""
    import comfy.model_management as mm
    from harness import tiny_hf
    from style_aligned.nodes import multimodal

    tiny_hf.blip(model_root / "blip-for-metrics" / "tiny-blip")
    consistency, caption = metric_nodes.StyleAlignedDinoSetConsistency, multimodal.StyleAlignedImageCaption
    with host.model_folder("blip", model_root / "blip-for-metrics"):
        host.call(consistency, inputs.images(2), "paper", 0, "tiny-dino", "", 8)
        host.call(caption, inputs.images(1), "tiny-blip", "", "", 4)

        def ours():
            loaded = [entry.model for entry in mm.current_loaded_models]
            return [node for node, kind in ((consistency, "dino"), (caption, "blip"))
                    if any(m is pretrained.loaded(kind)[1] for m in loaded)]

        assert ours() == [consistency, caption]
        mm.unload_all_models()
        assert ours() == []
        host.call(consistency, inputs.images(2), "paper", 0, "tiny-dino", "", 8)
        assert ours() == [consistency]
