"""Z-Image (Turbo and base; NextDiT): single-stream layers over one sequence, the caption first and the image
last, each padded with learned pad tokens to a multiple of 32 (the image's pads sit at position (0, 0, 0) after
it). The host offers no block replace, so each layer's attention module marks the running layer; the caption
and image refiners before the layers run plainly. Rotary axes (index, row, column)."""

from .family import Blocks, Family

FAMILY = Family(
    name="Z-Image",
    config_classes=("ZImage",),
    blocks=(Blocks("layer", "layers", attention="attention", pe="freqs_cis"),),
    presets={"auto": ("layer",)},
    image="end",
    pad=32,
    embedder="rope_embedder",
    text_encoders=(("comfy.text_encoders.z_image", "ZImageTEModel"),),
)
