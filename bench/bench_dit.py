"""Cost of StyleAligned sharing on a diffusion transformer, measured in one run on one model and seed
(run by hand):

    ./run bench dit [--size 128] [--text 256] [--heads 4] [--double 1] [--single 4] [--targets 3]
                    [--repeats 3] [--layers auto|all]

The host's own Flux model class (FLUX.1-dev layout: guidance embedding, MLP ratio 4) at FLUX.1's head
size (128 channels per head, rotary axes 16/56/56), with random weights and a few heads and blocks (real
FLUX.1 has 24 heads, 19 double- and 38 single-stream blocks). One reference + N targets are sampled for
one euler step at cfg 1 (one model call, one chunk, as FLUX.1 dev is used), unpatched and patched by
StyleAlignedPatchModel (defaults: layers auto = the single-stream blocks), alternating, and it prints
per configuration: the median seconds of the step, the peak memory the step adds (CUDA's peak
allocation on a GPU; on the CPU the rise of the peak resident set, in a fresh process per
configuration, as bench_attention.py), and FLOPs per step (torch's FLOP counter on a full-size
warm-up step, PyTorch's fused CPU attention kernel counted too).

The bound: in a shared block each target's L = text + image tokens attend to L + I keys (its own and
the reference's I image tokens) instead of L, so that block's attention FLOPs grow by
(refs * L + targets * (L + I)) / (rows * L). Summed over the shared blocks, the added attention FLOPs
as a fraction of the unpatched step's counted FLOPs (all attention and linear layers of the model) give
the bound the time ratio should stay near: time ratio <= (1 + extra FLOP fraction) * 1.05. It leaves
out AdaIN and the copies that join the keys (memory-bound, no matmul FLOPs), hence the 5 %.
"""

import argparse
import math
import statistics
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
from harness import host
from harness import tiny_models as tiny

HEAD_DIM = 128  # FLUX.1's head size
AXES_DIM = [16, 56, 56]  # FLUX.1's rotary axes (index, row, column); they sum to HEAD_DIM
PATCH = 2
CONTEXT_WIDTH = tiny.CONTEXT_DIM  # the text encoder's width (T5's 4096 in FLUX.1): only txt_in sees it
REFS = 1
CONFIGS = ("unpatched", "patched")


def flux_config(heads, double, single):
    """The host's Flux config: FLUX.1-dev's layout at `heads` heads of 128 channels."""
    import comfy.ldm.flux.model

    config = dict(tiny.FLUX_CONFIG, hidden_size=heads * HEAD_DIM, num_heads=heads, depth=double,
                  depth_single_blocks=single, axes_dim=AXES_DIM, mlp_ratio=4.0, guidance_embed=True,
                  context_in_dim=CONTEXT_WIDTH)
    return tiny.with_host_keys(comfy.ldm.flux.model.FluxParams, config, txt_ids_dims=[])


def build_model(heads, double, single, seed=0):
    """A ModelPatcher around the host's Flux model with small random weights (tiny_models.init_weights)
    and unit RMS norm scales (the host leaves them uninitialised), run on the host's device."""
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models as supported_models

    model = supported_models.Flux(flux_config(heads, double, single)).get_model({})
    tiny.init_weights(model, seed)
    for module in model.modules():
        if "RMSNorm" in type(module).__name__:
            for parameter in module.parameters(recurse=False):
                parameter.data.fill_(1.0)
    model.eval()
    return comfy.model_patcher.ModelPatcher(model, comfy.model_management.get_torch_device(), tiny.CPU)


def build_configs(args):
    from style_aligned.nodes.patch import StyleAlignedPatchModel

    torch.manual_seed(0)
    model = build_model(args.heads, args.double, args.single)
    return {"unpatched": model, "patched": host.run_node(StyleAlignedPatchModel, model=model, layers=args.layers)[0]}


def sample_step(model, batch, size, text):
    """One euler step at cfg 1: one model call on `batch` rows (one chunk)."""
    positive = tiny.dit_conditioning("flux", batch, seed=1, tokens=text)
    negative = tiny.dit_conditioning("flux", 1, seed=2, tokens=text)  # unused at cfg 1
    with torch.no_grad():
        return tiny.sample(model, "flux", batch, steps=1, cfg=1.0, positive=positive, negative=negative, size=size)


def image_tokens(size):
    return math.ceil(size / PATCH) ** 2


def shared_blocks(patched):
    """The blocks our patch shares in, as the patch node selected them (its model wrapper's settings)."""
    return sorted(patched.model_options["model_function_wrapper"].settings.selected)


def block_attention_ratio(targets, text, image, refs=REFS):
    """Attention FLOPs of one shared block over the unpatched block's: references attend to their own L
    keys, targets to L + I."""
    length = text + image
    return (refs * length + targets * (length + image)) / ((refs + targets) * length)


def extra_attention_flops(blocks, targets, text, image, channels):
    """FLOPs the shared blocks add per step: each target's L tokens also attend to the reference's I
    image keys, in every shared block (one chunk at cfg 1)."""
    return blocks * attention_flops(targets, text + image, channels, key_tokens=image)


def peak_step_memory(config, argv):
    """Peak memory one step of `config` adds, in a fresh process run with this run's flags (bench_host)."""
    return memory_in_fresh_process(__file__, [*argv, "--memory-of", config])


def _memory_child(args):
    start_host(pytorch_attention=args.kernel == "pytorch")
    batch = REFS + args.targets
    model = build_configs(args)[args.memory_of]
    sample_step(model, batch, 4, 4)  # loads the model and pays one-off costs at a tiny size
    print(step_peak_memory(lambda: sample_step(model, batch, args.size, args.text)))


def measure_all(configs, batch, size, text, repeats, argv):
    flops = {}
    for name, model in configs.items():
        sample_step(model, batch, 4, 4)  # loads the model at a tiny size
        flops[name] = step_flops(lambda m=model: sample_step(m, batch, size, text))  # warm-up, FLOPs counted
    times = alternating_times({name: (lambda m=model: sample_step(m, batch, size, text))
                               for name, model in configs.items()}, repeats)
    return {name: {"seconds": statistics.median(times[name]), "times": times[name],
                   "peak": peak_step_memory(name, argv), "flops": flops[name]} for name in configs}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=positive_int, default=128,
                        help="latent side (128 = 1024 px = 4096 image tokens; 32 for a quick smoke run)")
    parser.add_argument("--text", type=positive_int, default=256, help="text tokens")
    parser.add_argument("--heads", type=positive_int, default=4, help=f"attention heads of {HEAD_DIM} channels")
    parser.add_argument("--double", type=positive_int, default=1, help="double-stream blocks")
    parser.add_argument("--single", type=positive_int, default=4, help="single-stream blocks")
    parser.add_argument("--targets", type=positive_int, default=3)
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed steps per configuration (median)")
    parser.add_argument("--layers", choices=["auto", "all"], default="auto",
                        help="the patch's layers: auto (Flux: the single-stream blocks) or all blocks")
    parser.add_argument("--kernel", choices=["pytorch", "host"], default="pytorch",
                        help="attention kernel of the host and of our unbiased parts: PyTorch SDPA (the host's "
                             "choice on GPUs) or whatever the host picks here (sub-quadratic on CPU)")
    parser.add_argument("--memory-of", choices=CONFIGS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.memory_of:
        return _memory_child(args)

    start_host(pytorch_attention=args.kernel == "pytorch")
    configs = build_configs(args)
    model = configs["unpatched"].model.diffusion_model
    params = sum(p.numel() for p in model.parameters()) / 1e6
    batch, image = REFS + args.targets, image_tokens(args.size)
    channels = args.heads * HEAD_DIM
    shared = shared_blocks(configs["patched"])
    print(f"Flux (host class, FLUX.1-dev layout, {params:.1f}M parameters): {args.heads} heads of {HEAD_DIM} "
          f"channels (hidden {channels}), axes {AXES_DIM}, {args.double} double + {args.single} single blocks; "
          f"latent {args.size}x{args.size} = {image} image tokens + {args.text} text tokens; batch {batch} "
          f"({REFS} reference + {args.targets} targets), cfg 1 (one chunk), 1 euler step; layers {args.layers} "
          f"({len(shared)} shared blocks); median of {args.repeats}; {torch.get_num_threads()} threads, device "
          f"{configs['unpatched'].load_device}, attention kernel: {args.kernel}")
    results = measure_all(configs, batch, args.size, args.text, args.repeats, argv)
    base = results["unpatched"]
    extra = extra_attention_flops(len(shared), args.targets, args.text, image, channels) / base["flops"]
    bound = (1 + extra) * 1.05
    print(f"unpatched step: {base['flops'] / 1e9:.5g} GFLOP (torch FLOP counter, attention and linear layers); "
          f"a shared block's attention costs x{block_attention_ratio(args.targets, args.text, image):.3f}; over the "
          f"{len(shared)} shared blocks the attention adds {extra:.3f} of the step (analytic), so the time ratio "
          f"should stay below {bound:.3f}")
    print(f"{'configuration':<14}{'s/step':>9}{'time x':>8}{'peak MiB':>10}{'memory x':>10}{'GFLOP':>10}{'FLOP x':>8}"
          "  times (s)")
    for name, r in results.items():
        print(f"{name:<14}{r['seconds']:>9.3f}{r['seconds'] / base['seconds']:>8.3f}{r['peak'] / 2**20:>10.1f}"
              f"{r['peak'] / max(base['peak'], 1):>10.3f}{r['flops'] / 1e9:>10.5g}{r['flops'] / base['flops']:>8.3f}  "
              + ", ".join(f"{t:.2f}" for t in r["times"]))
    ratio = results["patched"]["seconds"] / base["seconds"]
    print(f"time ratio {ratio:.3f} against the bound {bound:.3f}: {'within' if ratio <= bound else 'OVER'} the bound")


if __name__ == "__main__":
    main()
