"""Flux: FLUX.1 dev / schnell / Fill, Chroma. Double-stream blocks see text and image apart, single-stream
blocks one sequence, text first; rotary axes (index, row, column). AlignedGen shares in the single-stream
blocks only."""

from .family import Blocks, Family

FAMILY = Family(
    name="Flux (dev, schnell, Chroma)",
    config_classes=("Flux", "FluxSchnell", "FluxInpaint", "Chroma"),
    blocks=(Blocks("double", "double_blocks", replace="double_block"),
            Blocks("single", "single_blocks", replace="single_block")),
    presets={"auto": ("single",), "single-stream blocks": ("single",), "double-stream blocks": ("double",)},
    text_encoders=(("comfy.text_encoders.flux", "FluxClipModel"),),
    guidance=True,
)
