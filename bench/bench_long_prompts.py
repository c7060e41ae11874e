"""What prompts of very different lengths cost in Style Aligned Batch Prompts, measured in one run:

    PYTHONPATH=tests:commands:generators python bench/bench_long_prompts.py
    (in the environment ./run made, COMFYUI_PATH set)

Four prompts of 300, 375, 450 and 525 times "cat" (4 to 7 chunks of 77 tokens) go through the node
with a real host CLIP (the tiny one, real tokenizer), then one sampling step of the tiny UNet. Each rule
runs in a fresh process: today's (pad to the longest row) and, for comparison, the earlier one
(repeat every row to the least common multiple of the lengths). Prints the conditioning's length,
the rise of peak RSS and the time, and what the conditioning alone would take at SD1.5's width.
"""

import argparse
import math
import resource
import subprocess
import sys
import time

import torch
from bench_host import start_host
from harness import host
from harness import tiny_models as tiny

COUNTS = (300, 375, 450, 525)
SD15_WIDTH = 768


def lcm_rows(conds, encode_empty):
    """The earlier rule, for comparison only: every row repeated to the lcm of the lengths."""
    length = math.lcm(*(c.shape[1] for c in conds))
    return torch.cat([c.repeat(1, length // c.shape[1], 1) for c in conds])


def measure(rule):
    start_host(cpu=True)
    from style_aligned.nodes import batch_prompts

    if rule == "lcm (before)":
        batch_prompts.stack_rows = lcm_rows
    clip, model = tiny.tiny_clip("sd15"), tiny.tiny_model("sd15")
    prompts = "\n".join(" ".join(["cat"] * n) for n in COUNTS)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    positive, _, _ = host.run_node(batch_prompts.StyleAlignedBatchPrompts, clip=clip, prompts=prompts, style="",
                                   width=64, height=64)
    tiny.sample(model, "sd15", len(COUNTS), positive=positive, negative=tiny.conditioning("sd15", 1, seed=9), size=8,
                steps=1)
    seconds = time.perf_counter() - started
    rise = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    tokens = positive[0][0].shape[1]
    full_width = len(COUNTS) * tokens * SD15_WIDTH * 4 / 2**20
    print(f"{rule:>22}: {tokens} tokens a row ({tokens // 77} chunks), peak RSS +{rise:.0f} MiB, {seconds:.1f} s; "
          f"the conditioning alone at SD1.5 width: {full_width:.0f} MiB", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rule", help=argparse.SUPPRESS)  # one measurement, in a fresh process
    args = parser.parse_args()
    if args.rule:
        return measure(args.rule)
    print(f"prompts of {', '.join(map(str, COUNTS))} words, tiny CLIP (width 32) and UNet, one step, CPU")
    for rule in ("pad to longest (now)", "lcm (before)"):
        subprocess.run([sys.executable, __file__, "--rule", rule], check=True)


if __name__ == "__main__":
    main()
