"""Cost of StyleAligned attention, measured in one run on one model and seed (run by hand):

    ./run bench [--size 64] [--steps 3] [--targets 4]

On the 320-channel "narrow SD1.5" UNet (real SD1.5 attention width) it samples a batch of one
reference + N targets with cfg > 1 (cond and uncond in one UNet call) unpatched and patched (score
shift 0 and log 2), and prints per configuration: seconds per sampling step, peak tensor memory
allocated during the step (torch profiler, CPU) or CUDA peak, and FLOPs per step (torch's FLOP
counter). The extra-FLOP fraction gives the bound the time ratio should stay near:
time ratio <= (1 + extra FLOP fraction) * 1.05.
"""

import argparse
import math

import torch
from bench_host import (
    alternating_times,
    memory_in_fresh_process,
    positive_int,
    start_host,
    step_flops,
    step_peak_memory,
)
from harness import host
from harness import tiny_models as tiny


def sample_steps(model, batch, size, steps, seed=0):
    positive = tiny.conditioning("sd15", batch, seed=1, width=768)
    negative = tiny.conditioning("sd15", 1, seed=2, width=768)
    return tiny.sample(model, "sd15", batch, steps=steps, cfg=5.0, seed=seed, positive=positive,
                     negative=negative, size=size)


def peak_step_memory(config, size, targets, kernel):
    """Peak memory one sampling step of `config` adds, in a fresh process (bench_host.step_peak_memory)."""
    return memory_in_fresh_process(__file__, ["--memory-of", config, "--size", str(size), "--targets", str(targets),
                                              "--kernel", kernel])


def _memory_child(config, size, targets, kernel):
    start_host(pytorch_attention=kernel == "pytorch")
    batch = 1 + targets
    model = build_configs()[config]
    sample_steps(model, batch, 8, 1)  # loads the model and pays one-off costs at a tiny size
    print(step_peak_memory(lambda: sample_steps(model, batch, size, 1)))


def attention_flops(batch, tokens, channels, key_tokens=None):
    """Multiply-adds x2 of one attention (QK^T and PV)."""
    key_tokens = key_tokens or tokens
    return 2 * 2 * batch * tokens * key_tokens * channels


def extra_attention_flops(model, batch, size):
    """FLOPs the shared layers add per step: each target (in cond and uncond) also attends to the
    reference's tokens, in every self-attention layer. Token counts are read from one real step."""
    from comfy.ldm.modules.attention import optimized_attention
    from style_aligned.core.alignment.layers import find_self_attention_layers

    shapes = []

    def record(q, k, v, extra_options):
        shapes.append((q.shape[0] // len(extra_options["cond_or_uncond"]), len(extra_options["cond_or_uncond"]),
                       q.shape[1], q.shape[2]))
        return optimized_attention(q, k, v, extra_options["n_heads"])

    probe = model.clone()
    for block, number, index in find_self_attention_layers(model.model.diffusion_model)[0]:
        probe.set_model_attn1_replace(record, block, number, index)
    sample_steps(probe, batch, size, 1)
    return sum(attention_flops(chunks * (rows - 1), tokens, channels) for rows, chunks, tokens, channels in shapes)


def measure_all(configs, batch, size, steps, repeats, kernel):
    runs = {name: (lambda n, m=m: sample_steps(m, batch, size, n)) for name, m in configs.items()}
    for run in runs.values():
        run(1)  # warm-up: loads the model, picks kernels
    times = alternating_times({name: (lambda run=run: run(steps)) for name, run in runs.items()}, repeats)
    return {name: {"seconds": min(times[name]) / steps, "peak": peak_step_memory(name, size, batch - 1, kernel),
                   "flops": step_flops(lambda run=run: run(1))} for name, run in runs.items()}


def build_configs():
    from style_aligned.nodes.patch import StyleAlignedPatchModel

    torch.manual_seed(0)
    model = tiny.narrow_sd15()
    return {
        "unpatched": model,
        "patched, shift 0": host.run_node(StyleAlignedPatchModel, model=model)[0],
        "patched, shift log 2": host.run_node(StyleAlignedPatchModel, model=model, score_shift=math.log(2))[0],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=positive_int, default=64, help="latent side (64 = 512 px)")
    parser.add_argument("--steps", type=positive_int, default=3)
    parser.add_argument("--targets", type=positive_int, default=4)
    parser.add_argument("--repeats", type=positive_int, default=2)
    parser.add_argument("--kernel", choices=["pytorch", "host"], default="pytorch",
                        help="attention kernel of the unpatched host and of our unbiased parts: PyTorch SDPA "
                             "(the host's choice on GPUs) or whatever the host picks here (sub-quadratic on CPU)")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        return _memory_child(args.memory_of, args.size, args.targets, args.kernel)

    start_host(pytorch_attention=args.kernel == "pytorch")
    configs = build_configs()
    model = configs["unpatched"]
    params = sum(p.numel() for p in model.model.diffusion_model.parameters()) / 1e6
    batch = 1 + args.targets
    print(f"narrow SD1.5 UNet ({params:.1f}M parameters), latent {args.size}x{args.size}, batch {batch} "
          f"(1 reference + {args.targets} targets), cfg 5 (cond+uncond in one call), euler, "
          f"{torch.get_num_threads()} threads, device {'cuda' if torch.cuda.is_available() else 'cpu'}, "
          f"host attention kernel: {args.kernel}")
    results = measure_all(configs, batch, args.size, args.steps, args.repeats, args.kernel)
    base = results["unpatched"]
    extra = extra_attention_flops(model, batch, args.size) / base["flops"]
    print(f"unpatched step: {base['flops'] / 1e9:.1f} GFLOP (torch FLOP counter); shared attention adds "
          f"{extra:.3f} of that (analytic), so the time ratio should stay below {(1 + extra) * 1.05:.3f}")
    print(f"{'configuration':<22}{'s/step':>9}{'time x':>8}{'peak MiB':>10}{'memory x':>10}")
    for name, r in results.items():
        print(f"{name:<22}{r['seconds']:>9.3f}{r['seconds'] / base['seconds']:>8.3f}{r['peak'] / 2**20:>10.1f}"
              f"{r['peak'] / base['peak']:>10.3f}")


if __name__ == "__main__":
    main()
