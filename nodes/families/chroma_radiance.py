"""Chroma Radiance: Chroma's Flux blocks (double and single stream, text first; rotary axes index, row, column)
on pixels: a 16-pixel patch embedding of the RGB image and a per-patch NeRF head after the blocks (no
attention there). No guidance embedding; T5 text, unmasked. AlignedGen shares in the single-stream blocks."""

from . import flux
from .family import Family

FAMILY = Family(
    name="Chroma Radiance",
    config_classes=("ChromaRadiance",),
    blocks=flux.FAMILY.blocks,  # Chroma's DiT: Flux's block lists and "dit" replaces
    presets=flux.FAMILY.presets,
    # its T5 (PixArtT5XXL) is Chroma's and PixArt's too: a text encoder cannot say which model it feeds, so the
    # batch-prompts node takes Chroma Radiance's size from a latent given to it (EmptyChromaRadianceLatentImage)
    text_encoders=(),
    latent_channels=3,  # the image itself
    latent_scale=1,
)
