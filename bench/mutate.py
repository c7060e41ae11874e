"""Mutation check: do the HOST tests see the method? (`./run mutate [--only NAME ...] [--list] [--no-baseline]`)

Each named mutation is one small edit of the pack's source (a text that must occur exactly once, replaced), made
in a fresh temporary copy of the repository; a chosen set of host tests (tests/host/, in the real ComfyUI host
named by COMFYUI_PATH) then runs against that copy. A mutation is caught when at least one of its tests fails
that passed on an unmutated copy (the baseline, run first over every chosen test). The copies are thrown away,
the repository is never written. Prints a table: mutation | caught? | by which host tests; exits 1 when a
mutation is not caught (or a mutation no longer applies: its text is not in the source exactly once).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from harness import pythonpath

ROOT = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns(".git", "__pycache__", ".ruff_cache", ".pytest_cache", "output", "models", "input")
ATTENTION = "tests/host/test_method_attention.py"
UNET = f"{ATTENTION}::test_unet_attention_is_the_definition_and_each_part_moves_the_targets[sd15]"
FLUX = f"{ATTENTION}::test_flux_attention_is_the_definition_with_reference_keys_beside_the_target"
DIT = "tests/host/test_patch_dit.py"


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple  # pytest node ids of host tests, relative to the repository root


MUTATIONS = (
    Mutation("AdaIN off", "core/alignment/attention.py",
             "    if not enabled:\n        return x\n", "    if True:\n        return x\n",
             (UNET, FLUX, "tests/host/test_patch_node.py::"
              "test_share_attention_off_keeps_adain_as_the_original_and_all_off_is_said")),
    Mutation("score shift off", "core/alignment/attention.py",
             "shifts = opts.score_shift + torch.log(", "shifts = 0 * opts.score_shift + torch.log(",
             (UNET, FLUX)),
    Mutation("GroupNorm sharing off", "core/alignment/group_norm.py",
             "    if rows <= refs:\n        return F.group_norm(", "    if True:\n        return F.group_norm(",
             (f"{ATTENTION}::test_unet_group_norm_pools_each_target_with_its_reference[sd15]",
              "tests/host/test_patch_node.py::test_reference_row_is_unchanged_and_targets_change")),
    Mutation("reference rows attend to targets", "core/alignment/attention.py",
             "out_r = attend(*(t.flatten(0, 1) for t in (ref_q, ref_k, ref_v)), mask=mask_r)",
             "out_r = attend(ref_q.flatten(0, 1), *(torch.cat([t[:, :refs], t[:, refs:2 * refs]], -2).flatten(0, 1) "
             "for t in (k, v)), mask=mask_r)",
             (UNET, FLUX, "tests/host/test_patch_node.py::test_reference_row_is_unchanged_and_targets_change")),
    Mutation("ShiftPE sign flipped", "core/alignment/positions.py",
             "angles += [distance * omega if index == axis", "angles += [-distance * omega if index == axis",
             (FLUX, f"{DIT}::test_the_shift_is_the_hosts_rope_at_positions_one_width_to_the_right",
              f"{DIT}::test_shifted_reference_positions_change_the_targets_not_the_reference")),
    Mutation("SLERP as linear", "core/reference/blend.py",
             "return _finish(coefficients @ used, flat,", "return _finish(w @ used, flat,",
             ("tests/host/test_method_blend.py",
              "tests/host/test_reference_nodes.py::test_blend_node_collects_rows_of_all_inputs_in_order")),
    Mutation("paper protocol without the reference", "core/evaluation/protocols.py",
             '"paper": Protocol("paper", "openai/clip-vit-base-patch32", True, True,',
             '"paper": Protocol("paper", "openai/clip-vit-base-patch32", True, False,',
             ("tests/host/test_method_metrics.py",
              "tests/host/test_metric_nodes.py::test_set_consistency_protocols_count_the_reference_or_not")),
    Mutation("inversion asks the model at the current sigma", "core/reference/inversion.py",
             "to_d(x_eval, sigma_next, denoise_fn(x_eval, sigma_next))",
             "to_d(x_eval, sigma_next, denoise_fn(x_eval, sigma))",
             ("tests/host/test_method_sd2.py",
              "tests/host/test_reference_nodes.py::"
              "test_inversion_runs_through_the_host_and_stores_sampler_space_latents")),
    # fan-out: a window's target images written in reverse order, seen (or not) by the test of each fault path
    Mutation("fan-out writes a window's rows in reverse", "commands/fanout/runner.py",
             "images[refs + j]) for j, p in enumerate(targets)]",
             "images[len(images) - 1 - j]) for j, p in enumerate(targets)]",
             ("tests/host/test_fanout.py::test_a_server_that_fails_every_window_leaves_them_to_the_other",
              "tests/host/test_fanout.py::test_an_interrupted_run_resumes_without_redoing_finished_windows",
              "tests/host/test_fanout.py::test_a_server_stopped_mid_run_loses_no_image")),
)


def copy_of_repository(parent):
    target = Path(parent) / "repo"
    shutil.copytree(ROOT, target, ignore=IGNORED, symlinks=True)
    return target


def apply(mutation, repo):
    """Edit the copy; a text that is not there exactly once is an error (the mutation no longer fits the code)."""
    path = repo / mutation.path
    text = path.read_text()
    count = text.count(mutation.old)
    if count != 1:
        raise ValueError(f"'{mutation.name}': the text to replace occurs {count} times in {mutation.path}, "
                         "not once; update the mutation to the current source")
    path.write_text(text.replace(mutation.old, mutation.new))


def run_tests(repo, tests, report, timeout):
    """Run host tests on the copy; {test id: "passed" | "failed" | "skipped"} from pytest's JUnit report."""
    env = {**os.environ, "PYTHONPATH": pythonpath(repo), "STYLE_ALIGNED_LEG": "main", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "pytest", "-c", "tests/pytest.ini", "-q",
               f"--junitxml={report}", *tests]
    try:
        proc = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {test: "failed (timeout)" for test in tests}
    outcomes = {}
    if Path(report).exists():
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            module = case.get("classname", "").split(".")[-1]
            name = f"{module}.py::{case.get('name')}"
            if case.find("failure") is not None or case.find("error") is not None:
                outcomes[name] = "failed"
            elif case.find("skipped") is not None:
                outcomes[name] = "skipped"
            else:
                outcomes[name] = "passed"
    if not outcomes:  # pytest itself failed (a test id that does not exist, a collection error)
        outcomes = {"(pytest)": f"failed: {(proc.stdout + proc.stderr).strip().splitlines()[-1:]}"}
    return outcomes


def grouped(tests):
    """Test ids with their parametrized cases folded: 'file.py::test (3 cases)'."""
    cases = {}
    for test in tests:
        cases.setdefault(test.split("[")[0], []).append(test)
    return [name if len(ids) == 1 and "[" not in ids[0] else f"{name} ({len(ids)} case{'s' * (len(ids) > 1)})"
            for name, ids in cases.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutations (names or parts of them)")
    parser.add_argument("--list", action="store_true", help="list the mutations and their tests, then stop")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the chosen tests")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per pytest run (default 900)")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or any(o.lower() in m.name.lower() for o in args.only)]
    if args.list or not chosen:
        for m in MUTATIONS:
            print(f"{m.name}: {m.path}\n    " + "\n    ".join(m.tests))
        return 0 if chosen else 2
    if not os.environ.get("COMFYUI_PATH"):
        sys.exit("mutate: set COMFYUI_PATH to the host (./run mutate does)")

    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="style-aligned-mutate-") as tmp:
        baseline = {}
        if not args.no_baseline:
            repo = copy_of_repository(Path(tmp) / "baseline")
            tests = sorted({t for m in chosen for t in m.tests})
            print(f"[mutate] baseline: {len(tests)} test selections on an unmutated copy", flush=True)
            baseline = run_tests(repo, tests, Path(tmp) / "baseline.xml", args.timeout)
            broken = sorted(t for t, outcome in baseline.items() if outcome != "passed")
            if broken:
                print("[mutate] not passing before any mutation (they cannot catch one): " + ", ".join(broken))
        for index, mutation in enumerate(chosen):
            t = time.monotonic()
            repo = copy_of_repository(Path(tmp) / f"m{index}")
            try:
                apply(mutation, repo)
            except ValueError as error:
                rows.append((mutation.name, "STALE", str(error)))
                continue
            outcomes = run_tests(repo, mutation.tests, Path(tmp) / f"m{index}.xml", args.timeout)
            by = sorted(test for test, outcome in outcomes.items()
                        if outcome.startswith("failed") and baseline.get(test, "passed") == "passed")
            ran = len(outcomes)
            rows.append((mutation.name, "yes" if by else "NO", ", ".join(grouped(by)) or f"none of {ran} tests"))
            print(f"[mutate] {mutation.name}: {'caught' if by else 'NOT caught'} ({time.monotonic() - t:.0f} s)",
                  flush=True)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'mutation'.ljust(width)} | caught? | by which host tests")
    print(f"{'-' * width}-|---------|--------------------")
    for name, caught, by in rows:
        print(f"{name.ljust(width)} | {caught.ljust(7)} | {by}")
    print(f"\n[mutate] {len(rows)} mutations in {time.monotonic() - started:.0f} s")
    return 0 if all(caught == "yes" for _, caught, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
