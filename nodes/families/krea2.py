"""Krea 2: single-stream blocks over the text then the image; the text is fused from a 12-layer tap of its
encoder by attention stages of its own (across layers, then over the text) that run plainly before the blocks.
The host offers no block replace, so each block's attention module marks the running block. Rotary axes
(index, row, column), text unrotated; one-frame latents (B, 16, 1, H, W)."""

from .family import Blocks, Family

FAMILY = Family(
    name="Krea 2",
    config_classes=("Krea2",),
    blocks=(Blocks("single", "blocks", attention="attn", pe="freqs"),),
    presets={"auto": ("single",)},
    image="end",
    patch="patch",
    text_encoders=(("comfy.text_encoders.krea2", "Krea2TEModel"),),
    latent_frames=True,
)
