"""Qwen-Image: joint blocks, text first (edit references after the target's image); rotary axes (frame, row,
column); one-frame latents (B, 16, 1, H, W)."""

from .family import Blocks, Family

FAMILY = Family(
    name="Qwen-Image",
    config_classes=("QwenImage",),
    blocks=(Blocks("joint", "transformer_blocks", replace="double_block"),),
    presets={"auto": ("joint",)},
    text_encoders=(("comfy.text_encoders.qwen_image", "QwenImageTEModel"),),
    latent_frames=True,
)
