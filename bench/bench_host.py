"""In-process host for the scripts in bench/ (run by ./run, which puts the harness on sys.path): starts
the host through the harness, on the GPU when there is one, and loads the pack."""

import argparse

import torch
from harness import host, pack


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
