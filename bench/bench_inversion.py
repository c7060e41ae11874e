"""Cost of DDIM inversion of a reference (run by hand):

    python bench/bench_inversion.py [--steps 50] [--size 64] [--refs 1] [--cfg 1 2] [--refinement 0]

On the 320-channel "narrow SD1.5" UNet (real SD1.5 attention width, one level) it runs the
DDIM Invert Reference node on a batch of `refs` reference latents at `size` x `size`, and prints
per guidance setting: denoiser evaluations, UNet calls and rows (cfg > 1 evaluates cond and
uncond), wall seconds, seconds per reference and per UNet call. Inversion costs one denoiser
evaluation per step (times 1 + refinement): the same as sampling with that many steps.
"""

import argparse
import time

import torch
from bench_host import positive_int, start_host
from harness import host, recording
from harness import tiny_models as tiny


def run(DDIMInvertReference, model, latent, steps, cfg, refinement):  # noqa: N803 (a node class)
    patched = model.clone()
    recorder = recording.CallRecorder.install(patched)
    positive = tiny.conditioning("sd15", 1, seed=1, width=768)
    negative = tiny.conditioning("sd15", 1, seed=2, width=768)
    start = time.perf_counter()
    trajectory = host.run_node(DDIMInvertReference, model=patched, latent=latent, positive=positive,
                             negative=negative, steps=steps, cfg=cfg, refinement=refinement)[0]
    seconds = time.perf_counter() - start
    rows = sum(call["input"].shape[0] for call in recorder.calls)
    return trajectory, seconds, len(recorder.calls), rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=positive_int, default=50)
    parser.add_argument("--size", type=positive_int, default=64, help="latent height and width (64 = 512 px)")
    parser.add_argument("--refs", type=positive_int, default=1, help="reference images inverted in one batch")
    parser.add_argument("--cfg", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument("--refinement", type=int, default=0)
    args = parser.parse_args()

    start_host()
    from style_aligned.nodes.reference import DDIMInvertReference

    model = tiny.narrow_sd15()
    params = sum(p.numel() for p in model.model.diffusion_model.parameters()) / 1e6
    latent = {"samples": torch.randn(args.refs, 4, args.size, args.size, generator=torch.Generator().manual_seed(0))}
    print(f"narrow SD1.5 UNet ({params:.1f}M parameters), latent {args.size}x{args.size}, {args.refs} reference(s), "
          f"{args.steps} steps, refinement {args.refinement}, device {model.load_device}, "
          f"{torch.get_num_threads()} threads")
    run(DDIMInvertReference, model, latent, 2, 1.0, 0)  # warm-up: loading, allocator, kernels
    print(f"{'cfg':>5} {'evals':>6} {'unet calls':>10} {'rows':>6} {'seconds':>9} {'s/ref':>8} {'s/call':>7}")
    for cfg in args.cfg:
        trajectory, seconds, calls, rows = run(DDIMInvertReference, model, latent, args.steps, cfg,
                                               args.refinement)
        evals = args.steps * (1 + args.refinement)
        assert trajectory.latents.shape[:2] == (args.steps + 1, args.refs)
        print(f"{cfg:>5.1f} {evals:>6} {calls:>10} {rows:>6} {seconds:>9.2f} {seconds / args.refs:>8.2f} "
              f"{seconds / calls:>7.3f}")


if __name__ == "__main__":
    main()
