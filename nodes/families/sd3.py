"""SD3 / SD3.5 (MMDiT): joint blocks, text first; absolute 2-D positions added at the input, so there is no
rotary frame and nothing to move the reference keys by (reference_positions has no effect). SD3.5 medium's
second, image-only attention in some blocks is shared as well (every token an image token)."""

from .family import Blocks, Family

FAMILY = Family(
    name="SD3 / SD3.5",
    config_classes=("SD3",),
    blocks=(Blocks("joint", "joint_blocks", replace="double_block"),),
    presets={"auto": ("joint",)},
    rope=False,
    text_encoders=(("comfy.text_encoders.sd3_clip", "SD3ClipModel"),),
)
