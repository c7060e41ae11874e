"""The scripts in bench/ on tiny models (their numbers are meaningless here): the evaluation runner
end to end, the attention benchmark's FLOP bound, and the DiT benchmark end to end and its bound."""

import importlib
import json
import math
import re

import pytest
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


@pytest.mark.needs("DiT models")
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
