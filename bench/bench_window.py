"""How large a window of Style Aligned Set Sampler fits a card: the host's own memory estimate of one sampling
call (what ComfyUI reserves for it and uses to decide whether to split a batch), per family at its native size,
for windows of 1 to 16 targets (run by hand; `./run` puts the harness on the path):

    python bench/bench_window.py [--windows 1 2 4 8 16]

`model.memory_required(latent shape)` of the host's model class of each family (a tiny model built from its
config: the estimate depends on the config's memory factor, the latent's area and the inference dtype, not on the
weights), as on a CUDA card with PyTorch attention (bf16). A window is the reference + N targets; at cfg > 1 a
call holds cond and uncond rows (2 (N + 1)), at cfg 1 (FLUX, Qwen-Image distilled, Z-Image Turbo) N + 1. Sharing
adds keys, not activations: the measured peak of a shared step stays that of the plain step (`./run bench`,
`./run bench dit`, 0.97-1.00x), so the estimate holds. The model's weights come on top (the host offloads what
does not fit, at a cost in speed).
"""

import argparse

import torch
from harness import host, tiny_flux2, tiny_nextdit, tiny_wan
from harness import tiny_models as tiny

GIB = 1024**3
# family -> (tiny model builder, latent shape of one image at its native size, cfg > 1 in the host's template)
FAMILIES = {
    "SD1.5 512 px": (lambda: tiny.tiny_model("sd15"), (4, 64, 64), True),
    "SDXL 1024 px": (lambda: tiny.tiny_model("sdxl"), (4, 128, 128), True),
    "FLUX.1 dev 1024 px": (tiny.tiny_flux, (16, 128, 128), False),
    "Qwen-Image 1328 px": (tiny.tiny_qwen_image, (16, 1, 166, 166), True),
    "FLUX.2 Klein 1024 px": (lambda: tiny_flux2.tiny_flux2(klein=True), (128, 64, 64), False),
    "Z-Image Turbo 1024 px": (lambda: tiny_nextdit.tiny("z_image"), (16, 128, 128), False),
    "Wan 2.2 5B 1280x704, 49 frames": (lambda: tiny_wan.tiny_wan("wan22"), (48, 13, 44, 80), True),
}


def estimate(model, shape, rows):
    """The host's memory estimate in bytes of one call on `rows` latents of `shape`, bf16 with flash attention."""
    import comfy.model_management as mm

    flash, dtype = mm.pytorch_attention_flash_attention, model.model.get_dtype_inference
    mm.pytorch_attention_flash_attention = lambda: True
    model.model.get_dtype_inference = lambda: torch.bfloat16
    try:
        return model.model.memory_required((rows, *shape))
    finally:
        mm.pytorch_attention_flash_attention, model.model.get_dtype_inference = flash, dtype


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    args = parser.parse_args()
    host.start()
    print(f"{host.describe()}: the host's memory estimate of one sampling call, GiB (bf16, flash attention)")
    print(f"{'family':32s}" + "".join(f"{f'w={w}':>9s}" for w in args.windows))
    for name, (build, shape, guided) in FAMILIES.items():
        model = build()
        per_call = [estimate(model, shape, (2 if guided else 1) * (w + 1)) / GIB for w in args.windows]
        print(f"{name:32s}" + "".join(f"{gib:9.2f}" for gib in per_call))


if __name__ == "__main__":
    main()
