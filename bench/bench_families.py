"""Cost of StyleAligned sharing on each 2026 image family, measured in one run per family on one seed:

    ./run bench dit --family NAME [--size 32] [--targets 3] [--repeats 3]      (NAME: a key below, or all)

The family's tiny model from its config (the host's own model class, tests/harness's tiny builders: a few
blocks of narrow width), one reference + N targets denoised for one euler step at cfg 1 (one model call),
unpatched and patched by StyleAlignedPatchModel with the family's defaults (layers auto), alternating; it prints
the fastest timed step of each (the least disturbed on a shared machine), the peak memory the step adds (CUDA's
peak allocation on a GPU; on the CPU the rise of the peak resident set, in a fresh process per configuration,
as bench_dit.py) and the FLOPs of each step by torch's FLOP counter. The bound is measured, not assumed:
time ratio <= patched FLOPs / unpatched FLOPs x 1.05 (AdaIN and the copies that join the keys are not matmul
FLOPs). Narrow tiny models spend more of their step in attention and in per-call Python than full-size ones,
so their ratios are an upper view of the real models' (bench_dit.py has FLUX.1's head size).
"""

import argparse

import torch
from bench_host import (
    alternating_times,
    memory_in_fresh_process,
    positive_int,
    start_host,
    step_flops,
    step_peak_memory,
)
from harness import host, tiny_edit_hunyuan_kandinsky, tiny_flux2, tiny_nextdit

# family -> (tiny model builder, the harness module that samples it)
FAMILIES = {
    **{kind: (tiny_flux2.TINY[kind], tiny_flux2) for kind in ("flux2", "flux2_klein", "chroma_radiance",
                                                              "longcat_image")},
    **{kind: (lambda kind=kind: tiny_nextdit.tiny(kind), tiny_nextdit) for kind in tiny_nextdit.KINDS},
    **{kind: (tiny_edit_hunyuan_kandinsky.TINY[kind], tiny_edit_hunyuan_kandinsky)
       for kind in ("hunyuan_image", "kandinsky5", "qwen_image_edit_2511")},
}
CONFIGS = ("unpatched", "patched")


def build(kind):
    from style_aligned.nodes.patch import StyleAlignedPatchModel

    torch.manual_seed(0)
    model = FAMILIES[kind][0]()
    return {"unpatched": model, "patched": host.run_node(StyleAlignedPatchModel, model=model)[0]}


def step(kind, model, batch, size):
    """One euler step at cfg 1 on `batch` rows: one model call."""
    with torch.no_grad():
        return FAMILIES[kind][1].sample(model, kind, batch, steps=1, cfg=1.0, size=size)


def peak_step_memory(kind, config, args):
    """Peak memory one step of `config` adds, in a fresh process (bench_host)."""
    return memory_in_fresh_process(__file__, ["--family", kind, "--size", str(args.size), "--targets",
                                              str(args.targets), "--memory-of", config])


def _memory_child(args):
    start_host(pytorch_attention=True)
    batch = 1 + args.targets
    model = build(args.family)[args.memory_of]
    step(args.family, model, batch, 4)  # loads the model and pays one-off costs at a tiny size
    print(step_peak_memory(lambda: step(args.family, model, batch, args.size)))


def measure(kind, args):
    """{config: (fastest seconds, FLOPs, peak bytes)} of one family."""
    configs, batch = build(kind), 1 + args.targets
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
    parser.add_argument("--memory-of", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        return _memory_child(args)
    start_host(pytorch_attention=True)
    print(f"{host.describe()}; latent {args.size}x{args.size} cells, 1 reference + {args.targets} targets, cfg 1, "
          f"1 euler step, layers auto, fastest of {args.repeats}; {torch.get_num_threads()} threads, PyTorch SDPA")
    print(f"{'family':22s}{'plain s':>9s}{'shared s':>10s}{'time x':>8s}{'bound':>8s}{'memory x':>10s}  verdict")
    for kind in FAMILIES if args.family == "all" else [args.family]:
        r = measure(kind, args)
        (plain, plain_flops, plain_peak), (shared, shared_flops, shared_peak) = r["unpatched"], r["patched"]
        ratio, bound = shared / plain, shared_flops / plain_flops * 1.05
        print(f"{kind:22s}{plain:9.3f}{shared:10.3f}{ratio:8.3f}{bound:8.3f}{shared_peak / max(plain_peak, 1):10.3f}"
              f"  {'within' if ratio <= bound else 'OVER'} the bound")


if __name__ == "__main__":
    main()
