"""In-process host for the scripts in bench/ (run as `python bench/<script>.py`, so this folder,
not the repo root, is on sys.path): starts the host the way tests/host_boot.py does, on the GPU
when there is one, and loads the pack and the tiny-model helpers."""

import argparse
import runpy
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def start_host(cpu=None, pytorch_attention=False):
    """(sa_support, style_aligned) after starting the host; cpu=None picks the GPU if present.
    pytorch_attention: the host's PyTorch (SDPA) attention kernel instead of its default choice
    (on the CPU the test host would pick its sub-quadratic kernel)."""
    if pytorch_attention:
        from comfy.cli_args import args

        args.use_pytorch_cross_attention = True  # read when the host's attention module is imported
    boot = runpy.run_path(str(ROOT / "tests" / "host_boot.py"))
    boot["start_host"](cpu=not torch.cuda.is_available() if cpu is None else cpu)
    return boot["load_support"](), boot["load_pack"]()


def positive_int(text):
    """argparse type: an int >= 1 (sizes, steps, counts), with a clear message otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value
