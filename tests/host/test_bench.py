"""The scripts in bench/ on tiny models (their numbers are meaningless here): the evaluation runner
end to end, the attention benchmark's FLOP bound, the DiT benchmark end to end and its bound, and the family
benchmark's models at the real head sizes."""

import importlib
import json
import math
import re

import pytest
import torch
from harness import host, pack


def test_runner_produces_the_table_for_all_six_methods(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(pack.ROOT / "bench"))  # as when run as `python bench/evaluate.py`
    evaluate = importlib.import_module("evaluate")
    evaluate.main(["--tiny", "--sets", "2", "--subjects", "2", "--steps", "2", "--inversion-steps", "2",
                   "--out", str(tmp_path)])
    table = (tmp_path / "table.md").read_text().splitlines()
    assert table[1].startswith("protocol: paper (StyleAligned's table: CLIP ViT-B/32 against '<object>, <style>'")
    rows = [line for line in table if line.startswith("| ") and not line.startswith("| method")]
    assert [row.split(" | ")[0][2:] for row in rows] == evaluate.METHODS
    saved = json.loads((tmp_path / "scores.json").read_text())
    assert saved["protocol"] == "paper"
    scores = saved["scores"]
    for method in evaluate.METHODS:
        assert len(scores[method]) == 2  # one row of scores per set
        assert all(math.isfinite(v) and -1.0 <= v <= 1.0 for row in scores[method] for v in row)
    assert len(list(tmp_path.glob("set01_*.png"))) == len(evaluate.METHODS)


def _pils(images):
    from PIL import Image

    return [Image.fromarray((image.clamp(0, 1) * 255).round().byte().numpy()) for image in images]


def _direct_consistency(dino_bundle, images):
    """Mean pairwise cosine of the tiny DINO's CLS tokens, the model called as a transformers model."""
    import torch
    import torch.nn.functional as F

    dino, processor = dino_bundle
    with torch.no_grad():
        cls = dino(**processor(images=_pils(images), return_tensors="pt")).last_hidden_state[:, 0]
    unit = F.normalize(cls.double(), dim=-1)
    pairs = [(i, j) for i in range(len(images)) for j in range(i + 1, len(images))]
    return sum(float(unit[i] @ unit[j]) for i, j in pairs) / len(pairs)


def _direct_alignment(clip_bundle, images, texts):
    """Mean CLIP cosine of each image with its text, the model called as a transformers model."""
    import torch
    import torch.nn.functional as F

    clip, processor = clip_bundle
    limit = clip.config.text_config.max_position_embeddings
    tokens = processor.tokenizer(texts, padding="max_length", truncation=True, max_length=limit, return_tensors="pt")
    with torch.no_grad():
        image_features = clip.get_image_features(**processor(images=_pils(images), return_tensors="pt"))
        text_features = clip.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
    image_features, text_features = (getattr(f, "pooler_output", f) for f in (image_features, text_features))
    return float(F.cosine_similarity(image_features.double(), text_features.double(), dim=-1).mean())


@pytest.mark.parametrize("name", ["paper", "pack"])
def test_protocol_numbers_equal_a_direct_computation(tmp_path, monkeypatch, name):
    """paper: DINO over every image, the reference included, and CLIP against "<object>, <style>";
    pack: DINO over the targets, CLIP against the object alone."""
    import torch

    monkeypatch.syspath_prepend(str(pack.ROOT / "bench"))
    evaluate = importlib.import_module("evaluate")
    from harness import tiny_vision

    judges = evaluate.load_judges(str(tiny_vision.save_tiny_dino(tmp_path / "dino")),
                                  str(tiny_vision.save_tiny_clip(tmp_path / "clip")))
    gen = torch.Generator().manual_seed(3)
    images = torch.rand(4, 32, 32, 3, generator=gen)  # row 0 is the reference
    ref_a, ref_b = torch.rand(2, 1, 32, 32, 3, generator=gen)
    entry = {"reference": "a house", "subjects": ["a cat", "a dog", "a bicycle"], "style": "watercolor painting"}
    chosen = evaluate.PROTOCOLS[name]
    consistency, alignment = evaluate.score_set(judges, images, 1, entry, ref_a, ref_b, chosen)[:2]
    texts = [f"{s}, watercolor painting" if name == "paper" else s for s in entry["subjects"]]
    in_set = images if name == "paper" else images[1:]
    assert consistency == pytest.approx(_direct_consistency(judges[0], in_set), abs=1e-5)
    assert alignment == pytest.approx(_direct_alignment(judges[1], images[1:], texts), abs=1e-5)


def test_an_unknown_protocol_is_named(monkeypatch):
    monkeypatch.syspath_prepend(str(pack.ROOT / "bench"))
    evaluate = importlib.import_module("evaluate")
    with pytest.raises(ValueError, match="protocol: 'seeds' is not a metric protocol; choose one of paper, pack"):
        evaluate.protocol("seeds")
    with pytest.raises(SystemExit):
        evaluate.parse_args(["--tiny", "--protocol", "seeds"])


def test_attention_benchmark_counts_the_extra_flops_of_every_shared_layer(monkeypatch):
    monkeypatch.syspath_prepend(str(pack.ROOT / "bench"))
    bench = importlib.import_module("bench_attention")
    from harness import tiny_models as tiny
    from style_aligned.core.alignment.layers import find_self_attention_layers

    model = tiny.narrow_sd15()
    layers = len(find_self_attention_layers(model.model.diffusion_model)[0])
    # 1 reference + 1 target, cond and uncond in one call: 2 target rows attend to 64 more tokens of width 320
    assert bench.extra_attention_flops(model, batch=2, size=8) == layers * 4 * 2 * 64 * 64 * 320


def test_dit_benchmark_runs_end_to_end_and_prints_finite_figures(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(pack.ROOT / "bench"))
    bench = importlib.import_module("bench_dit")
    bench.main(["--size", "4", "--text", "4", "--heads", "1", "--single", "2", "--targets", "2", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "1 double + 2 single blocks" in out and "(2 shared blocks)" in out
    table = [line.split() for line in out.splitlines() if line.startswith(("unpatched ", "patched "))]
    rows = {cells[0]: cells[1:7] for cells in table}
    assert set(rows) == {"unpatched", "patched"}
    figures = {name: [float(v) for v in values] for name, values in rows.items()}  # s, time x, MiB, memory x, GFLOP, x
    assert all(math.isfinite(v) for values in figures.values() for v in values)
    assert figures["unpatched"][1] == figures["unpatched"][5] == 1.0
    assert figures["patched"][0] > 0 and figures["patched"][4] > figures["unpatched"][4]
    bound = re.search(r"time ratio ([\d.]+) against the bound ([\d.]+)", out)
    assert bound and all(math.isfinite(float(v)) for v in bound.groups())


def test_dit_benchmark_bound_counts_the_reference_image_keys_of_every_shared_block(monkeypatch):
    monkeypatch.syspath_prepend(str(pack.ROOT / "bench"))
    bench = importlib.import_module("bench_dit")
    # 1 reference + 3 targets, 256 text + 4096 image tokens: targets attend to 4352 + 4096 keys instead of 4352
    assert bench.block_attention_ratio(3, 256, 4096) == pytest.approx((4352 + 3 * 8448) / (4 * 4352))
    assert bench.extra_attention_flops(4, 3, 256, 4096, 512) == 4 * 4 * 3 * 4352 * 4096 * 512


BENCHED_FAMILIES = ("flux2", "flux2_klein", "chroma_radiance", "longcat_image", "z_image", "krea2", "boogu",
                    "hunyuan_image", "kandinsky5", "qwen_image_edit_2511")


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.needs(host.FAMILY_NEEDS[kind]))
                                  if kind in host.FAMILY_NEEDS else kind for kind in BENCHED_FAMILIES])
def test_family_benchmark_builds_each_family_with_real_head_sizes_and_restores_the_tiny_config(monkeypatch, kind):
    """`./run bench dit --family NAME --real-heads`: the family's model has two heads of the real model's size
    (the rotary embedding's width is the head size) and samples a step; the tiny config the tests use is as it
    was afterwards."""
    monkeypatch.syspath_prepend(str(pack.ROOT / "bench"))
    bench = importlib.import_module("bench_families")
    assert set(bench.FAMILIES) == set(BENCHED_FAMILIES)
    config = bench.REAL_HEADS[kind][0]
    before = dict(config)
    model = bench.build(kind, real_heads=True)["patched"]
    axes = next(m.axes_dim for m in model.model.diffusion_model.modules() if hasattr(m, "axes_dim"))
    assert sum(axes) == (120 if kind == "boogu" else 128), axes
    assert torch.isfinite(bench.step(kind, model, 2, 4)).all()
    assert config == before
