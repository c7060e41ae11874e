"""Cost of StyleAligned sharing on a Wan video DiT as the clip grows, measured in one run on one model and seed
(run by hand; `./run` puts the harness on the path):

    python bench/bench_wan.py [--frames 1 5 9] [--height 30] [--width 52] [--heads 2] [--blocks 2]
                              [--targets 2] [--text 512] [--repeats 3]

The host's own Wan model class (WAN21_T2V: Wan 2.1 / 2.2 14B's layout, patch (1, 2, 2)) at Wan's head size (128
channels per head, rotary axes 44/42/42 for frame, height, width), with random weights and a few heads and
blocks. One reference clip + N target clips are denoised for one euler step at cfg 1 (one model call, one
chunk), unpatched and patched by StyleAlignedPatchModel (layers auto = every block), alternating; per latent
frame count it prints the fastest of the timed steps (the least disturbed by other processes on a shared
machine), the peak memory the step adds (CUDA's peak allocation on a
GPU; on the CPU the rise of the peak resident set, in a fresh process per measurement, as bench_dit.py) and
their ratios, and the bound the time ratio should stay near: in every block each target's L clip tokens also
attend to the reference's L tokens, so that block's self-attention FLOPs grow by targets / rows; added to the
unpatched step's counted FLOPs (attention and linear layers), times 1.05 for AdaIN and the copies that join the
keys. A latent of height x width cells makes (height / 2) x (width / 2) tokens per latent frame.

Real sizes (head size 128 everywhere; tokens per latent frame, Wan 2.1 / 2.2 14B at /8 then patch 2 x 2):
  Wan 2.1 1.3B    hidden 1536, 12 heads, 30 blocks, ffn 8960
  Wan 2.1 14B     hidden 5120, 40 heads, 40 blocks, ffn 13824 (Wan 2.2 A14B: two such experts, same sizes)
  Wan 2.2 TI2V 5B hidden 3072, 24 heads, 30 blocks, ffn 14336, 48-channel latents at /16 (then patch 2 x 2)
  480p (832 x 480): 14B 52 x 30 = 1560 tokens per latent frame; 5B 26 x 15 = 390
  720p (1280 x 720): 14B 80 x 45 = 3600; 5B (1280 x 704) 40 x 22 = 880
  81 video frames = 21 latent frames (4x in time): 14B 480p 32760 tokens per clip, 720p 75600.
"""

import argparse
import sys

import torch
from bench_attention import attention_flops
from bench_host import (
    alternating_times,
    memory_in_fresh_process,
    positive_int,
    start_host,
    step_flops,
    step_peak_memory,
)
from harness import host, tiny_wan

HEAD_DIM = 128  # Wan's head size (hidden / heads in every Wan model)
REFS = 1
CONFIGS = ("unpatched", "patched")


def wan_config(heads, blocks, ffn_ratio=2.7):
    """The host's WAN21_T2V config at `heads` heads of 128 channels (ffn as the 14B's 13824 / 5120)."""
    dim = heads * HEAD_DIM
    return dict(num_heads=heads, dim=dim, ffn_dim=int(dim * ffn_ratio) // 64 * 64, num_layers=blocks)


def build_configs(args):
    import comfy.model_management
    from style_aligned.nodes.patch import StyleAlignedPatchModel

    torch.manual_seed(0)
    model = tiny_wan.tiny_wan("wan21", **wan_config(args.heads, args.blocks))
    model.load_device = comfy.model_management.get_torch_device()
    return {"unpatched": model, "patched": host.run_node(StyleAlignedPatchModel, model=model)[0]}


def sample_step(model, batch, frames, height, width, text):
    """One euler step at cfg 1: one model call on `batch` clips (one chunk)."""
    positive = tiny_wan.wan_conditioning(batch, seed=1, tokens=text)
    negative = tiny_wan.wan_conditioning(1, seed=2, tokens=text)  # unused at cfg 1
    with torch.no_grad():
        return tiny_wan.sample(model, "wan21", batch, steps=1, cfg=1.0, positive=positive, negative=negative,
                               frames=frames, height=height, width=width)


def clip_tokens(frames, height, width):
    return frames * -(-height // 2) * -(-width // 2)


def extra_attention_flops(blocks, targets, tokens, channels):
    """FLOPs sharing adds per step: each target's tokens also attend to the reference's, in every block."""
    return blocks * attention_flops(targets, tokens, channels, key_tokens=tokens)


def peak_step_memory(config, frames, argv):
    """Peak memory one step of `config` at `frames` adds, in a fresh process with this run's flags (bench_host)."""
    return memory_in_fresh_process(__file__, [*argv, "--memory-of", config, "--memory-frames", str(frames)])


def _memory_child(args):
    start_host(pytorch_attention=True)
    batch = REFS + args.targets
    model = build_configs(args)[args.memory_of]
    sample_step(model, batch, 1, 2, 2, 4)  # loads the model and pays one-off costs at a tiny size
    print(step_peak_memory(lambda: sample_step(model, batch, args.memory_frames, args.height, args.width, args.text)))


def measure(configs, args, frames, argv):
    batch = REFS + args.targets
    step = (batch, frames, args.height, args.width, args.text)
    flops = {name: step_flops(lambda m=model: sample_step(m, *step)) for name, model in configs.items()}  # warm-up
    times = alternating_times({name: (lambda m=model: sample_step(m, *step)) for name, model in configs.items()},
                              args.repeats)
    return {name: {"seconds": min(times[name]), "peak": peak_step_memory(name, frames, argv),
                   "flops": flops[name]} for name in configs}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=positive_int, nargs="+", default=[1, 5, 9], help="latent frames per clip")
    parser.add_argument("--height", type=positive_int, default=30, help="latent height (480p at /8: 60)")
    parser.add_argument("--width", type=positive_int, default=52, help="latent width (480p at /8: 104)")
    parser.add_argument("--heads", type=positive_int, default=2, help=f"attention heads of {HEAD_DIM} channels")
    parser.add_argument("--blocks", type=positive_int, default=2)
    parser.add_argument("--targets", type=positive_int, default=2)
    parser.add_argument("--text", type=positive_int, default=512, help="text tokens (umT5 pads to 512)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed steps per configuration (fastest)")
    parser.add_argument("--memory-of", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--memory-frames", type=positive_int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.memory_of:
        return _memory_child(args)
    start_host(pytorch_attention=True)
    configs = build_configs(args)
    params = sum(p.numel() for p in configs["unpatched"].model.diffusion_model.parameters()) / 1e6
    channels = args.heads * HEAD_DIM
    print(f"Wan (host class WAN21_T2V, {params:.1f}M parameters): {args.heads} heads of {HEAD_DIM} channels (hidden "
          f"{channels}), {args.blocks} blocks, all shared (layers auto); latent {args.height}x{args.width} per frame "
          f"= {clip_tokens(1, args.height, args.width)} tokens, {args.text} text tokens; {REFS} reference + "
          f"{args.targets} target clips, cfg 1, 1 euler step, fastest of {args.repeats}; {torch.get_num_threads()} "
          f"threads, device {configs['unpatched'].load_device}, PyTorch SDPA")
    print(f"{'frames':>6}{'tokens':>8}{'plain s':>9}{'shared s':>10}{'time x':>8}{'bound':>7}{'plain MiB':>11}"
          f"{'shared MiB':>12}{'memory x':>10}")
    for frames in args.frames:
        r = measure(configs, args, frames, argv)
        plain, shared = r["unpatched"], r["patched"]
        tokens = clip_tokens(frames, args.height, args.width)
        bound = (1 + extra_attention_flops(args.blocks, args.targets, tokens, channels) / plain["flops"]) * 1.05
        print(f"{frames:>6}{tokens:>8}{plain['seconds']:>9.3f}{shared['seconds']:>10.3f}"
              f"{shared['seconds'] / plain['seconds']:>8.3f}{bound:>7.3f}{plain['peak'] / 2**20:>11.1f}"
              f"{shared['peak'] / 2**20:>12.1f}{shared['peak'] / max(plain['peak'], 1):>10.3f}", flush=True)


if __name__ == "__main__":
    main()
