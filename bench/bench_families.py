"""Cost of StyleAligned sharing on each 2026 image family, measured in one run per family on one seed:

    ./run bench dit --family NAME [--size 32] [--targets 3] [--repeats 3] [--real-heads]   (NAME: a key below, or all)

The family's tiny model from its config (the host's own model class, tests/harness's tiny builders: a few
blocks of narrow width), one reference + N targets denoised for one euler step at cfg 1 (one model call),
unpatched and patched by StyleAlignedPatchModel with the family's defaults (layers auto), alternating; it prints
the fastest timed step of each (the least disturbed on a shared machine), the peak memory the step adds (CUDA's
peak allocation on a GPU; on the CPU the rise of the peak resident set, in a fresh process per configuration,
as bench_dit.py) and the FLOPs of each step by torch's FLOP counter. The bound is measured, not assumed:
time ratio <= patched FLOPs / unpatched FLOPs x 1.05 (AdaIN and the copies that join the keys are not matmul
FLOPs). Narrow tiny models spend more of their step in attention and in per-call Python than full-size ones,
so their ratios are an upper view of the real models'. `--real-heads` builds each family with two attention heads
of the real model's size (128 channels; Boogu's 120), rotary axes split as the host splits them for the real
model, so attention, AdaIN and the joined keys are as wide per head as there (bench_dit.py does so for FLUX.1).
"""

import argparse
import contextlib

import torch
from bench_host import (
    alternating_times,
    memory_in_fresh_process,
    positive_int,
    start_host,
    step_flops,
    step_peak_memory,
)
from harness import host, tiny_edit_hunyuan_kandinsky, tiny_flux2, tiny_models, tiny_nextdit

# family -> (tiny model builder, the harness module that samples it)
FAMILIES = {
    **{kind: (tiny_flux2.TINY[kind], tiny_flux2) for kind in ("flux2", "flux2_klein", "chroma_radiance",
                                                              "longcat_image")},
    **{kind: (lambda kind=kind: tiny_nextdit.tiny(kind), tiny_nextdit) for kind in tiny_nextdit.KINDS},
    **{kind: (tiny_edit_hunyuan_kandinsky.TINY[kind], tiny_edit_hunyuan_kandinsky)
       for kind in ("hunyuan_image", "kandinsky5", "qwen_image_edit_2511")},
}
CONFIGS = ("unpatched", "patched")

# Two heads of the real model's size per family: (the harness's config dict, the keys that set the width, the heads
# and the rotary axes as the host splits them for the real model; grouped kv heads where the real model groups them)
_FLUX_AXES = [16, 56, 56]
REAL_HEADS = {
    "flux2": (tiny_flux2.FLUX2_CONFIG, dict(hidden_size=256, num_heads=2, axes_dim=[32, 32, 32, 32])),
    "chroma_radiance": (tiny_flux2.CHROMA_RADIANCE_CONFIG, dict(hidden_size=256, num_heads=2, axes_dim=_FLUX_AXES,
                                                                out_dim=256)),
    "longcat_image": (tiny_flux2.LONGCAT_CONFIG, dict(hidden_size=256, num_heads=2, axes_dim=_FLUX_AXES)),
    "z_image": (tiny_nextdit.CONFIGS["z_image"], dict(dim=256, n_heads=2, n_kv_heads=2, axes_dims=[32, 48, 48])),
    "krea2": (tiny_nextdit.CONFIGS["krea2"], dict(features=256, heads=2, kvheads=1)),
    "boogu": (tiny_nextdit.CONFIGS["boogu"], dict(hidden_size=240, num_attention_heads=2, num_kv_heads=1,
                                                  axes_dim_rope=(40, 40, 40))),  # 28 heads of 120 in 3360
    "hunyuan_image": (tiny_edit_hunyuan_kandinsky.HUNYUAN_IMAGE_CONFIG, dict(hidden_size=256, num_heads=2,
                                                                              axes_dim=[64, 64])),
    "kandinsky5": (tiny_edit_hunyuan_kandinsky.KANDINSKY5_CONFIG, dict(model_dim=256, ff_dim=512,
                                                                       axes_dims=(32, 48, 48))),
    "qwen_image_edit_2511": (tiny_models.QWEN_IMAGE_CONFIG, dict(attention_head_dim=128, num_attention_heads=2,
                                                                 axes_dims_rope=(16, 56, 56))),
}
REAL_HEADS["flux2_klein"] = REAL_HEADS["flux2"]


@contextlib.contextmanager
def head_size(kind, real_heads):
    """Inside: the family's tiny model is built with two heads of the real model's size (real_heads) or its own."""
    if not real_heads:
        yield
        return
    config, wider = REAL_HEADS[kind]
    saved = dict(config)
    config.update(wider)
    try:
        yield
    finally:
        config.clear()
        config.update(saved)


def build(kind, real_heads=False):
    from style_aligned.nodes.patch import StyleAlignedPatchModel

    torch.manual_seed(0)
    with head_size(kind, real_heads):
        model = FAMILIES[kind][0]()
    return {"unpatched": model, "patched": host.run_node(StyleAlignedPatchModel, model=model)[0]}


def step(kind, model, batch, size):
    """One euler step at cfg 1 on `batch` rows: one model call."""
    with torch.no_grad():
        return FAMILIES[kind][1].sample(model, kind, batch, steps=1, cfg=1.0, size=size)


def peak_step_memory(kind, config, args):
    """Peak memory one step of `config` adds, in a fresh process (bench_host)."""
    head = ["--real-heads"] if args.real_heads else []
    return memory_in_fresh_process(__file__, ["--family", kind, "--size", str(args.size), "--targets",
                                              str(args.targets), "--memory-of", config, *head])


def _memory_child(args):
    start_host(pytorch_attention=True)
    batch = 1 + args.targets
    model = build(args.family, args.real_heads)[args.memory_of]
    step(args.family, model, batch, 4)  # loads the model and pays one-off costs at a tiny size
    print(step_peak_memory(lambda: step(args.family, model, batch, args.size)))


def measure(kind, args):
    """{config: (fastest seconds, FLOPs, peak bytes)} of one family."""
    configs, batch = build(kind, args.real_heads), 1 + args.targets
    flops = {}
    for name, model in configs.items():
        step(kind, model, batch, 4)
        flops[name] = step_flops(lambda m=model: step(kind, m, batch, args.size))
    times = alternating_times({name: (lambda m=model: step(kind, m, batch, args.size))
                               for name, model in configs.items()}, args.repeats)
    return {name: (min(times[name]), flops[name], peak_step_memory(kind, name, args)) for name in configs}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=[*FAMILIES, "all"], default="all")
    parser.add_argument("--size", type=positive_int, default=32, help="latent side in cells")
    parser.add_argument("--targets", type=positive_int, default=3)
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed steps per configuration (fastest)")
    parser.add_argument("--real-heads", action="store_true", help="build every family with two heads of the real "
                        "model's size (128 channels; Boogu 120) instead of the tiny widths")
    parser.add_argument("--memory-of", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        return _memory_child(args)
    start_host(pytorch_attention=True)
    heads = "2 heads of the real models' size" if args.real_heads else "tiny widths"
    print(f"{host.describe()}; latent {args.size}x{args.size} cells, {heads}, 1 reference + {args.targets} targets, "
          f"cfg 1, 1 euler step, layers auto, fastest of {args.repeats}; {torch.get_num_threads()} threads, "
          f"PyTorch SDPA")
    print(f"{'family':22s}{'plain s':>9s}{'shared s':>10s}{'time x':>8s}{'bound':>8s}{'memory x':>10s}  verdict")
    for kind in FAMILIES if args.family == "all" else [args.family]:
        r = measure(kind, args)
        (plain, plain_flops, plain_peak), (shared, shared_flops, shared_peak) = r["unpatched"], r["patched"]
        ratio, bound = shared / plain, shared_flops / plain_flops * 1.05
        print(f"{kind:22s}{plain:9.3f}{shared:10.3f}{ratio:8.3f}{bound:8.3f}{shared_peak / max(plain_peak, 1):10.3f}"
              f"  {'within' if ratio <= bound else 'OVER'} the bound")


if __name__ == "__main__":
    main()
