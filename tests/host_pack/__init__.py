"""Test-only node pack for the headless host: tiny loaders that stand in for real weights.

Linked into the server's `custom_nodes/` by tests/test_server.py and by the demo (tools/demo.py).
Models come from tests/support.py (loaded by path: the host imports this folder as a package
under its folder name, and the repo root must never be on sys.path).
"""

import functools
import math
import os
import runpy

import torch

_TESTS = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


@functools.cache
def _support():
    return runpy.run_path(os.path.join(_TESTS, "host_boot.py"))["load_support"]()


_CACHE = {}


class TinyCheckpointLoader:
    """MODEL/CLIP/VAE of the tiny SD1.5- or SDXL-shaped test model (random weights: images are noise)."""

    CATEGORY = "style_aligned_tests"
    FUNCTION = "load"
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    DESCRIPTION = "Tiny random SD1.5/SDXL-shaped model for tests and the demo. Its images are noise."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"kind": (["sd15", "sdxl"], {"default": "sd15"}),
                             "seed": ("INT", {"default": 0, "min": 0, "max": 2**31 - 1})}}

    def load(self, kind, seed):
        key = ("ckpt", kind, seed)
        if key not in _CACHE:
            support = _support()
            _CACHE[key] = (support.tiny_model(kind, seed), support.tiny_clip(kind, seed), support.tiny_vae(seed))
        return _CACHE[key]


class TinyControlNetLoader:
    CATEGORY = "style_aligned_tests"
    FUNCTION = "load"
    RETURN_TYPES = ("CONTROL_NET",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"kind": (["sd15", "sdxl"], {"default": "sd15"})}}

    def load(self, kind):
        return (_support().tiny_controlnet(kind),)


class TinyAudio:
    """Stereo 44.1 kHz AUDIO (a chord) standing in for upstream's LoadAudio, which the test host lacks."""

    CATEGORY = "style_aligned_tests"
    FUNCTION = "make"
    RETURN_TYPES = ("AUDIO",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seconds": ("FLOAT", {"default": 1.5, "min": 0.1, "max": 30.0}),
                             "frequency": ("FLOAT", {"default": 220.0, "min": 20.0, "max": 8000.0})}}

    def make(self, seconds, frequency):
        rate = 44100
        t = torch.arange(int(rate * seconds)) / rate
        wave = torch.stack([torch.sin(2 * math.pi * frequency * t), torch.sin(2 * math.pi * 2 * frequency * t)])
        return ({"waveform": 0.3 * wave[None], "sample_rate": rate},)


NODE_CLASS_MAPPINGS = {
    "TinyCheckpointLoader": TinyCheckpointLoader,
    "TinyControlNetLoader": TinyControlNetLoader,
    "TinyAudio": TinyAudio,
}
NODE_DISPLAY_NAME_MAPPINGS = {name: f"{name} (test)" for name in NODE_CLASS_MAPPINGS}
