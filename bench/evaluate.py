"""Evaluation runner: the paper's table for six ways of making a style-aligned set.

    ./run evaluate --checkpoint /path/sd_xl_base_1.0.safetensors          # real weights (GPU)
    ./run evaluate --tiny                                                  # tiny random models

For every set of a prompt-set file (one style, a reference subject, several object prompts) it
generates the set with: plain generation, StyleAligned (prompt reference), StyleAligned with an
inverted reference image, a Linear and a SLERP Z-SAMB blend of two reference images (inverted as
one), and weighted multi-reference attention (both references kept, weights 0.5/0.5). The
reference images are the plain model's images of this set's and the next set's reference
prompt. Each method is scored under a named protocol (--protocol, core/evaluation/protocols.py;
the output states it):

- set consistency: mean pairwise cosine of DINO ViT-B/8 CLS embeddings, over every image of the set
  with the reference ("paper", as the seeds' table) or over the targets only ("pack");
- text alignment: CLIP cosine of each target image with "<object>, <style>" and CLIP ViT-B/32
  ("paper") or with the object prompt alone and CLIP ViT-L/14 ("pack");
- style to reference A: mean DINO cosine of the targets to this set's reference image;
- multi-style: Weighted Multi-Style DINO of the targets to references A and B, weights 0.5/0.5.

Everything runs through the pack's own nodes and the host's stock KSampler and VAE nodes.
With --tiny the models are tiny random ones built here: the numbers are meaningless and only
show that the pipeline runs end to end.
"""

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch
from bench_host import positive_int, start_host
from harness import pack

pack.package()  # core/ imports without a host; the nodes load once the host has started
from style_aligned.core.evaluation.protocols import PROTOCOLS, protocol  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
METHODS = ["plain", "StyleAligned", "StyleAligned + reference", "Linear blend", "SLERP blend",
           "weighted multi-reference attention"]
COLUMNS = ["set consistency (DINO)", "text alignment (CLIP)", "style to reference A (DINO)", "multi-style A+B (DINO)"]


class Generator:
    """The diffusion side: model, CLIP and VAE, driven through nodes as a workflow would."""

    def __init__(self, model, clip, vae, size, steps, cfg, sampler, scheduler, inversion_steps, seed):
        self.model, self.clip, self.vae = model, clip, vae
        self.size, self.steps, self.cfg = size, steps, cfg
        self.sampler, self.scheduler = sampler, scheduler
        self.inversion_steps, self.seed = inversion_steps, seed

    def encode_text(self, text):
        import nodes

        return nodes.CLIPTextEncode().encode(self.clip, text)[0]

    def images(self, model, prompts, style, negative, style_reference=None):
        from harness.host import run_node
        from style_aligned.nodes.batch_prompts import StyleAlignedBatchPrompts

        import nodes

        positive, latent, *_ = run_node(StyleAlignedBatchPrompts, clip=self.clip, prompts="\n".join(prompts),
                                        style=style, width=self.size, height=self.size, style_reference=style_reference)
        samples = nodes.KSampler().sample(model, self.seed, self.steps, self.cfg, self.sampler, self.scheduler,
                                          positive, self.encode_text(negative), latent)[0]
        return nodes.VAEDecode().decode(self.vae, samples)[0]

    def latent_of(self, images):
        import nodes

        return nodes.VAEEncode().encode(self.vae, images)[0]

    def invert(self, latent, prompt):
        from harness.host import call
        from style_aligned.nodes.reference import DDIMInvertReference

        return call(DDIMInvertReference, self.model, latent, self.encode_text(prompt), self.inversion_steps,
                    1.0, "normal")["result"][0]

    def aligned(self, style_reference=None, weights=""):
        """The model patched with a fresh node's knobs (widget defaults)."""
        from harness.host import run_node
        from style_aligned.nodes.patch import StyleAlignedPatchModel

        return run_node(StyleAlignedPatchModel, model=self.model, style_reference=style_reference,
                        reference_weights=weights)[0]


def generate_set(gen, method, entry, ref_a, ref_b, negative):
    """(every image of one set made with `method`, how many of its first rows are references)."""
    from harness.host import call
    from style_aligned.nodes.blend import MultiRefBlend

    prompts = [entry["reference"]] + entry["subjects"]
    style = entry["style"]
    if method == "plain":
        return gen.images(gen.model, prompts, style, negative), 1
    if method == "StyleAligned":
        return gen.images(gen.aligned(), prompts, style, negative), 1
    latent_a, latent_b = gen.latent_of(ref_a), gen.latent_of(ref_b)
    if method == "StyleAligned + reference":
        trajectory = gen.invert(latent_a, f"{entry['reference']}, {style}")
        return gen.images(gen.aligned(trajectory), prompts, style, negative, trajectory), 1
    if method in ("Linear blend", "SLERP blend"):
        blended = call(MultiRefBlend, method.split()[0], latent_a, "0.5, 0.5", True, latent_2=latent_b)["result"][0]
        trajectory = gen.invert(blended, entry["reference"])
        return gen.images(gen.aligned(trajectory), prompts, style, negative, trajectory), 1
    both = {"samples": torch.cat([latent_a["samples"], latent_b["samples"]])}
    trajectory = gen.invert(both, entry["reference"])
    return gen.images(gen.aligned(trajectory, "0.5, 0.5"), prompts, style, negative, trajectory), 2


def score_set(judges, images, refs, entry, ref_a, ref_b, protocol):
    """The table's four numbers for one set under `protocol` (core.evaluation.protocols): set consistency
    over the rows the protocol counts; text alignment, style to A and multi-style over the targets."""
    from style_aligned.core.evaluation import embeddings, metrics
    from style_aligned.core.evaluation.protocols import scored_rows

    dino, clip = judges
    embedded = embeddings.dino_embeddings(dino, images)
    generated = embedded[refs:]
    references = embeddings.dino_embeddings(dino, torch.cat([ref_a, ref_b]))
    texts = [embeddings.alignment_prompt(s, entry["style"], protocol.style_in_text) for s in entry["subjects"]]
    text = metrics.text_alignment(embeddings.clip_image_embeddings(clip, images[refs:]),
                                  embeddings.clip_text_embeddings(clip, texts))
    in_set = embedded[scored_rows(len(images), refs, protocol)]
    return [metrics.set_consistency(in_set).score, text.score,
            metrics.weighted_style_score(generated, references[:1]).score,
            metrics.weighted_style_score(generated, references, [0.5, 0.5]).score]


def load_tiny(workdir):
    from harness import tiny_vision
    from harness.tiny_models import tiny_clip, tiny_model, tiny_vae

    dino = tiny_vision.save_tiny_dino(Path(workdir) / "dino")
    clip = tiny_vision.save_tiny_clip(Path(workdir) / "clip")
    return (tiny_model("sd15"), tiny_clip("sd15"), tiny_vae()), (str(dino), str(clip))


def load_checkpoint(path):
    import comfy.sd

    model, clip, vae = comfy.sd.load_checkpoint_guess_config(path, output_vae=True, output_clip=True)[:3]
    return model, clip, vae


def load_judges(dino_name, clip_name):
    from style_aligned.core.common.pretrained import load_pretrained
    from style_aligned.core.evaluation import embeddings

    return (load_pretrained(embeddings.load_dino, dino_name, [], "dino"),
            load_pretrained(embeddings.load_clip, clip_name, [], "clip"))


def table(results):
    lines = ["| method | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for method in METHODS:
        rows = results[method]
        means = [sum(r[i] for r in rows) / len(rows) for i in range(len(COLUMNS))]
        lines.append(f"| {method} | " + " | ".join(f"{m:.3f}" for m in means) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="an SD1.5 or SDXL checkpoint (.safetensors)")
    source.add_argument("--tiny", action="store_true", help="tiny random models (checks the pipeline only)")
    parser.add_argument("--prompts", default=str(ROOT / "bench" / "prompt_sets" / "styles.json"))
    parser.add_argument("--sets", type=int, default=0, help="use only the first N sets (0 = all)")
    parser.add_argument("--subjects", type=int, default=0, help="use only the first N object prompts of a set")
    parser.add_argument("--dino", default="facebook/dino-vitb8", help="DINO model: hub id or local folder")
    parser.add_argument("--clip", default=None, help="CLIP model: hub id or folder (default: the protocol's)")
    parser.add_argument("--protocol", default="paper", choices=list(PROTOCOLS),
                        help="how the table is scored: " + "; ".join(f"{p.name}: {p.description}"
                                                                      for p in PROTOCOLS.values()))
    parser.add_argument("--size", type=int, default=0, help="image side in pixels (default 1024 SDXL, 512 SD1.5)")
    parser.add_argument("--steps", type=positive_int, default=50)
    parser.add_argument("--inversion-steps", type=positive_int, default=50)
    parser.add_argument("--cfg", type=float, default=7.0)
    parser.add_argument("--sampler", default="euler")
    parser.add_argument("--scheduler", default="normal")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "output" / "evaluation"))
    args = parser.parse_args(argv)
    if args.checkpoint and not Path(args.checkpoint).is_file():
        parser.error(f"--checkpoint: no file at {args.checkpoint}")
    if not Path(args.prompts).is_file():
        parser.error(f"--prompts: no file at {args.prompts}")
    return args


def load_prompt_sets(path, sets, subjects):
    data = json.loads(Path(path).read_text())
    entries = data["sets"][:sets or None]
    if len(entries) < 2:
        raise SystemExit("--prompts/--sets: need at least two sets (the next set's reference is reference B)")
    for entry in entries:
        entry["subjects"] = entry["subjects"][:subjects or None]
    return entries, data.get("negative", "")


def run(args):
    start = time.perf_counter()
    entries, negative = load_prompt_sets(args.prompts, args.sets, args.subjects)
    start_host(cpu=True if args.tiny else None)
    with tempfile.TemporaryDirectory() as workdir:
        if args.tiny:
            (model, clip, vae), (dino_name, clip_name) = load_tiny(workdir)
            size = args.size or 64
        else:
            model, clip, vae = load_checkpoint(args.checkpoint)
            dino_name, clip_name = args.dino, args.clip or protocol(args.protocol).clip_model
            size = args.size or (1024 if "SDXL" in type(model.model.model_config).__name__ else 512)
        judges = load_judges(dino_name, clip_name)
        gen = Generator(model, clip, vae, size, args.steps, args.cfg, args.sampler, args.scheduler,
                        args.inversion_steps, args.seed)
        with torch.inference_mode():  # as the host runs nodes
            results = evaluate(gen, judges, entries, negative, Path(args.out), protocol(args.protocol))
    report = table(results)
    wall = time.perf_counter() - start
    header = (f"{len(entries)} sets x {len(entries[0]['subjects'])} objects, {size}px, {args.steps} steps, "
              f"inversion {args.inversion_steps} steps, seed {args.seed}, "
              f"{'tiny random models (numbers meaningless)' if args.tiny else args.checkpoint}; "
              f"wall time {wall:.0f} s\nprotocol: {args.protocol} ({protocol(args.protocol).description}; CLIP "
              f"{clip_name}, DINO {dino_name})")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "table.md").write_text(header + "\n\n" + report + "\n")
    (Path(args.out) / "scores.json").write_text(json.dumps({"protocol": args.protocol, "clip": clip_name,
                                                            "dino": dino_name, "scores": results}, indent=1))
    print(header + "\n\n" + report)
    return results


def evaluate(gen, judges, entries, negative, out, protocol):
    """Scores per method and set; the images are saved as one strip per method and set."""
    import comfy.utils

    out.mkdir(parents=True, exist_ok=True)
    progress = comfy.utils.ProgressBar(len(entries) * (len(METHODS) + 1))
    references = []
    for entry in entries:  # reference images: the plain model's image of each reference prompt
        references.append(gen.images(gen.model, [entry["reference"]], entry["style"], negative))
        progress.update(1)
    results = {method: [] for method in METHODS}
    for i, entry in enumerate(entries):
        ref_a, ref_b = references[i], references[(i + 1) % len(entries)]
        for method in METHODS:
            images, refs = generate_set(gen, method, entry, ref_a, ref_b, negative)
            results[method].append(score_set(judges, images, refs, entry, ref_a, ref_b, protocol))
            save_strip(out / f"set{i:02d}_{method.replace(' ', '_').replace('+', 'with')}.png", images)
            progress.update(1)
    return results


def save_strip(path, images):
    from PIL import Image

    strip = torch.cat(list(images), dim=1)  # (H, N*W, C)
    Image.fromarray((strip.clamp(0, 1) * 255).round().byte().cpu().numpy()).save(path)


def main(argv=None):
    args = parse_args(argv)
    results = run(args)
    bad = [m for m, rows in results.items() for r in rows for v in r if not math.isfinite(v)]
    if bad:
        raise SystemExit(f"non-finite scores for {sorted(set(bad))}")


if __name__ == "__main__":
    main()
