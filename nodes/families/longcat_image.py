"""LongCat-Image: the host's Flux DiT (double and single stream, text first; rotary axes index, row, column),
without guidance or pooled text. Text positions run along the row and column axes and the host moves the image's
positions past them (rope_options shift by the text length), so ShiftPE's one-width turn of the reference keys
still lands one latent width to the right. Qwen2.5-VL text, 16-channel latents at /8."""

from . import flux
from .family import Family

FAMILY = Family(
    name="LongCat-Image",
    config_classes=("LongCatImage",),
    blocks=flux.FAMILY.blocks,  # the host's Flux DiT: the same block lists and "dit" replaces
    presets=flux.FAMILY.presets,
    text_encoders=(("comfy.text_encoders.longcat_image", "LongCatImageTEModel"),),
)
