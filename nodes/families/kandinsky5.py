"""Kandinsky 5 Image (lite): text blocks, then visual blocks of image-only self-attention (3-D rotary: frame,
row, column) and cross-attention to the text, both through the same attention function. The host's "dit"
replace for these blocks fails when it calls the block (it passes `x=`), so the running block is marked on the
forward of each visual block's self-attention module instead, whose rotations are its argument `freqs`; the
cross-attention (and the text blocks) run outside that mark and stay plain."""

from .family import Blocks, Family

FAMILY = Family(
    name="Kandinsky 5 Image",
    config_classes=("Kandinsky5Image",),
    blocks=(Blocks("visual", "visual_transformer_blocks", attention="self_attention", pe="freqs"),),
    presets={"auto": ("visual",)},
    image="all",
    shared_calls="self",  # belt and braces: a call whose keys are not the queries' tokens is never shared
    embedder="rope_embedder_3d",
    text_encoders=(("comfy.text_encoders.kandinsky5", "Kandinsky5TEModel"),),
)
