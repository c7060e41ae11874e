"""In-process host for the scripts in bench/ (run by ./run, which puts the harness on sys.path): starts
the host through the harness, on the GPU when there is one, and loads the pack."""

import argparse
import os
import resource
import subprocess
import sys
import time

import torch
from harness import host, pack, pythonpath


def start_host(cpu=None, pytorch_attention=False):
    """The pack, after starting the host; cpu=None picks the GPU if present.
    pytorch_attention: the host's PyTorch (SDPA) attention kernel instead of its default choice
    (on the CPU the host would pick its sub-quadratic kernel)."""
    host.start(cpu=not torch.cuda.is_available() if cpu is None else cpu, pytorch_attention=pytorch_attention)
    return pack.load()


def positive_int(text):
    """argparse type: an int >= 1 (sizes, steps, counts), with a clear message otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def step_flops(fn):
    """FLOPs of fn() by torch's FLOP counter, which also counts PyTorch's fused CPU attention kernel here
    (it knows the CUDA kernels but not that one); the host's own kernels are matmuls it counts anyway."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_attention(query, key, value, *args, out_shape=None, **kwargs):  # shapes (B, heads, L, dim)
        if key[1] != query[1]:  # grouped-query attention: each key/value head serves several query heads
            key, value = ((*shape[:1], query[1], *shape[2:]) for shape in (key, value))
        return sdpa_flop_count(query, key, value)

    kernel = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    with FlopCounterMode(display=False, custom_mapping={kernel: cpu_attention}) as counter:
        fn()
    return counter.get_total_flops()


def alternating_times(runs, repeats):
    """{name: seconds of each of `repeats` calls of run()}, the configurations taking turns, so load from other
    processes hits every configuration alike."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    return times


def step_peak_memory(step):
    """Peak memory step() adds: CUDA's peak allocation on a GPU; on the CPU the rise of the peak resident set over
    what the process held before (large tensors are mmapped and returned on free, so RSS tracks live tensors).
    Call it in a fresh process (memory_in_fresh_process), after a warm-up step at a tiny size."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    before = _rss_now()
    step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before


def memory_in_fresh_process(script, argv):
    """The number a fresh `python script *argv` prints last: a benchmark's own memory child (the peak resident set
    only rises, so each configuration is measured in a process of its own)."""
    env = dict(os.environ, PYTHONPATH=pythonpath(extra=os.environ.get("PYTHONPATH")))
    out = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, check=True, env=env)
    return int(out.stdout.strip().splitlines()[-1])


def _rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
