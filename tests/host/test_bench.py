"""The scripts in bench/ on tiny models (their numbers are meaningless here): the evaluation runner
end to end, and the attention benchmark's FLOP bound."""

import importlib
import json
import math

from harness import pack


def test_runner_produces_the_table_for_all_six_methods(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(pack.ROOT / "bench"))  # as when run as `python bench/evaluate.py`
    evaluate = importlib.import_module("evaluate")
    evaluate.main(["--tiny", "--sets", "2", "--subjects", "2", "--steps", "2", "--inversion-steps", "2",
                   "--out", str(tmp_path)])
    table = (tmp_path / "table.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| ") and not line.startswith("| method")]
    assert [row.split(" | ")[0][2:] for row in rows] == evaluate.METHODS
    scores = json.loads((tmp_path / "scores.json").read_text())
    for method in evaluate.METHODS:
        assert len(scores[method]) == 2  # one row of scores per set
        assert all(math.isfinite(v) and -1.0 <= v <= 1.0 for row in scores[method] for v in row)
    assert len(list(tmp_path.glob("set01_*.png"))) == len(evaluate.METHODS)


def test_attention_benchmark_counts_the_extra_flops_of_every_shared_layer(monkeypatch):
    monkeypatch.syspath_prepend(str(pack.ROOT / "bench"))
    bench = importlib.import_module("bench_attention")
    from harness import tiny_models as tiny
    from style_aligned.core.alignment.layers import find_self_attention_layers

    model = tiny.narrow_sd15()
    layers = len(find_self_attention_layers(model.model.diffusion_model)[0])
    # 1 reference + 1 target, cond and uncond in one call: 2 target rows attend to 64 more tokens of width 320
    assert bench.extra_attention_flops(model, batch=2, size=8) == layers * 4 * 2 * 64 * 64 * 320
