"""The main job in one command: `./run demo [--checkpoint PATH] [--out DIR]`.

Sets up upstream ComfyUI (the checkout ./run resolves: COMFYUI_PATH, else the pinned v0.28.0
snapshot), with this pack linked into its custom_nodes in a host folder outside the repository
(STYLE_ALIGNED_DEMO_HOST, which ./run puts in its cache; --host-dir), starts it headless on
127.0.0.1, runs the shipped prompts-only workflow and the metrics workflow end to end, and writes
the images and a metric report to <out>.

Without --checkpoint it uses a tiny built-in model with random weights (tests/harness/tiny_pack) and
tiny DINO/CLIP models: it proves the whole path works in a minute or two on a CPU, but its images are
noise. With --checkpoint the shipped workflows run unchanged with the stock Load Checkpoint node
on your file (linked into the host's models/checkpoints); the metric models (DINO ViT-B/8, CLIP
ViT-L/14) are then downloaded from the Hugging Face hub on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from harness import pack
from harness import server as hs
from harness import workflow_api as wf

ROOT = pack.ROOT

PROMPTS_WORKFLOW = {"sdxl": "02 SDXL prompts only.json", "sd15": "01 SD1.5 prompts only.json"}
METRICS_WORKFLOW = "05 SD1.5 style metrics.json"
METRIC_NODES = ("DinoSetConsistency", "ClipTextAlignment", "WeightedDinoScore")
SIZE = {"sdxl": 1024, "sd15": 512}


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def default_host_dir() -> Path:
    cache = Path(os.environ.get("STYLE_ALIGNED_CACHE", Path.home() / ".cache" / "style-aligned-suite"))
    return Path(os.environ.get("STYLE_ALIGNED_DEMO_HOST", cache / "demo-host"))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="./run demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="your SD1.5 or SDXL checkpoint (.safetensors/.ckpt); "
                                                        "without it a tiny random model is used (noise images)")
    parser.add_argument("--family", choices=["sd15", "sdxl"], help="model family of --checkpoint (guessed from "
                                                                    "the file name: 'xl' means SDXL)")
    parser.add_argument("--out", type=Path, default=ROOT / "output", help="output folder (default ./output)")
    parser.add_argument("--steps", type=int, help="sampling steps (default: as shipped, 30; tiny model: 3)")
    parser.add_argument("--host-dir", type=Path, default=default_host_dir(),
                        help="the host's folder (custom_nodes, models, input, output); default "
                             "$STYLE_ALIGNED_DEMO_HOST, else ~/.cache/style-aligned-suite/demo-host. Never inside "
                             "the repository, where the tests would find the pack again through its link")
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for each workflow")
    args = parser.parse_args(argv)
    if args.checkpoint is not None:
        args.checkpoint = args.checkpoint.expanduser().resolve()
        if not args.checkpoint.is_file():
            parser.error(f"--checkpoint: no file at {args.checkpoint}")
    args.host_dir = args.host_dir.expanduser().resolve()
    if args.host_dir.is_relative_to(ROOT):
        parser.error(f"--host-dir {args.host_dir} is inside the repository: choose a folder outside {ROOT}")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def build_prompts(args, specs, family, ckpt_name):
    """(name, API prompt) for the prompts-only workflow and the metrics workflow."""
    prompts = []
    for name in (PROMPTS_WORKFLOW[family], METRICS_WORKFLOW):
        prompt = wf.to_api(wf.load(ROOT / "workflows" / name), specs)
        if ckpt_name is None:
            prompt = hs.use_tiny_models(prompt, steps=args.steps or hs.TINY_STEPS)
            for node in prompt.values():
                if node["class_type"] == "TinyCheckpointLoader":
                    node["inputs"]["kind"] = family
        else:
            for node in prompt.values():
                inputs = node["inputs"]
                if node["class_type"] == "CheckpointLoaderSimple":
                    inputs["ckpt_name"] = ckpt_name
                elif node["class_type"] == "StyleAlignedBatchPrompts":
                    inputs.update(width=SIZE[family], height=SIZE[family])
                elif node["class_type"] == "KSampler" and args.steps:
                    inputs["steps"] = args.steps
        for node in prompt.values():
            if node["class_type"] == "SaveImage":
                node["inputs"]["filename_prefix"] = "demo/" + Path(name).stem
        prompts.append((name, prompt))
    return prompts


def collect(host, entry, prompt, out_dir: Path) -> list[Path]:
    """Copy the workflow's saved images and charts out of the host folder."""
    copied = []
    for node_id, records in hs.saved_images(entry).items():
        node = prompt[node_id]
        target = out_dir / ("images" if node["class_type"] == "SaveImage" else "charts")
        target.mkdir(parents=True, exist_ok=True)
        title = re.sub(r"[^a-z0-9]+", "_", node.get("_meta", {}).get("title", "").lower()).strip("_")
        for record in records:
            base = host.cwd / ("output" if record.get("type") == "output" else record.get("type", "temp"))
            source = base / record.get("subfolder", "") / record["filename"]
            destination = target / (record["filename"] if node["class_type"] == "SaveImage" else f"{title}.png")
            shutil.copyfile(source, destination)
            copied.append(destination)
    return copied


def metric_report(entry, prompt, tiny: bool, family: str, ckpt: str) -> tuple[str, dict]:
    scores, sections = {}, []
    for node_id, node in prompt.items():
        if node["class_type"] in METRIC_NODES:
            text = hs.ui_text(entry, node_id)
            sections.append(text)
            match = re.match(r"([^:]+): (-?[0-9.]+)", text)
            if match:
                scores[match.group(1)] = float(match.group(2))
    header = [f"Style Aligned Suite demo: {family} prompts-only set, scored with the paper's metrics",
              f"model: {ckpt}"]
    if tiny:
        header.append("NOTE: tiny random model and tiny random DINO/CLIP: the images are noise and the scores "
                      "only show that the pipeline runs. Use --checkpoint for real results.")
    return "\n".join(header) + "\n\n" + "\n\n".join(sections) + "\n", scores


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for ours in ("images", "charts"):  # this run's results only
        shutil.rmtree(out / ours, ignore_errors=True)
    tiny = args.checkpoint is None
    packs = {hs.PACK_FOLDER: ROOT}
    ckpt_name = None
    if tiny:
        family = args.family or "sd15"
        packs["style-aligned-tiny-models"] = hs.TINY_PACK
    else:
        family = args.family or ("sdxl" if "xl" in args.checkpoint.name.lower() else "sd15")
        ckpt_name = args.checkpoint.name
    host_dir = hs.prepare_host(args.host_dir, packs)
    if not tiny:
        link = host_dir / "models" / "checkpoints" / ckpt_name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(args.checkpoint)
    else:
        say("writing the tiny DINO/CLIP metric models (once)")
        hs.write_tiny_pretrained(host_dir / "models", kinds=("dino", "clip"))  # names: hs.TINY_MODEL_NAMES

    say(f"starting the host headless on 127.0.0.1 (folder {host_dir}, log {host_dir / 'host.log'})")
    host = hs.HostServer(host_dir, port=args.port, offline=tiny)
    try:
        host.start()
    except (RuntimeError, TimeoutError) as exc:  # no `comfyui` command, port taken, host crashed or hung
        host.stop()
        say(f"the host did not start: {exc}")
        return 1
    try:
        say(f"host ready at {host.url}")
        specs = host.get("/object_info")
        missing = [n for n in ("StyleAlignedPatchModel", "StyleAlignedBatchPrompts") if n not in specs]
        if missing:
            say(f"the pack did not load in the host ({missing} missing); see {host.log_path}")
            return 1
        report, scores, files = "", {}, []
        for name, prompt in build_prompts(args, specs, family, ckpt_name):
            say(f"running workflows/{name} ...")
            t0 = time.monotonic()
            try:
                entry = host.run(prompt, timeout=args.timeout)
            except (RuntimeError, TimeoutError) as exc:
                say(f"workflows/{name} failed: {exc}\n       host log: {host.log_path}")
                return 1
            files += collect(host, entry, prompt, out)
            say(f"  done in {time.monotonic() - t0:.1f} s")
            if name == METRICS_WORKFLOW:
                report, scores = metric_report(entry, prompt, tiny, family, ckpt_name or "tiny built-in model")
    finally:
        host.stop()
    (out / "metrics_report.txt").write_text(report, encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps({"family": family, "checkpoint": ckpt_name, "tiny_model": tiny,
                                                  "scores": scores}, indent=2) + "\n", encoding="utf-8")
    say(f"finished in {time.monotonic() - started:.0f} s")
    say(f"images: {out / 'images'} ({sum(1 for f in files if f.parent.name == 'images')} files), charts: "
        f"{out / 'charts'}, report: {out / 'metrics_report.txt'}")
    print("\n" + report)
    if tiny:
        say("The images above come from a TINY RANDOM MODEL: they are noise. This run only proves that the pack, "
            "the shipped workflows and the host work together.")
        say("For real images point the demo at your weights, e.g.\n"
            "         ./run demo --checkpoint ~/ComfyUI/models/checkpoints/sd_xl_base_1.0.safetensors\n"
            "       or load workflows/*.json in your ComfyUI and pick your checkpoint in Load Checkpoint.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
