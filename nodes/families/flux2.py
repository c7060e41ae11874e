"""FLUX.2 (dev and Klein): Flux's double- and single-stream blocks (the host's Flux DiT, "flux2" config), text
first; four rotary axes (index, row, column, text position), theta 2000, patch 1 on 128-channel latents at /16.

The text is left-padded with zeros to 512 tokens by the host and never masked: the text length the double blocks
report is that padded length, so the image tokens are the ones after it. Edit references (the host's
ReferenceLatent conditioning) are appended after the target's image tokens on the index axis (10, 20, ...): they
are the tokens after the image, so they are neither shared nor part of the AdaIN statistics. dev has a guidance
embedding (CLIPTextEncodeFlux's guidance); Klein has none and ignores the value. AlignedGen shares in the
single-stream blocks only."""

from . import flux
from .family import Family

FAMILY = Family(
    name="FLUX.2 (dev, Klein)",
    config_classes=("Flux2",),
    blocks=flux.FAMILY.blocks,  # the host's Flux DiT: the same block lists and "dit" replaces
    presets=flux.FAMILY.presets,
    text_encoders=(("comfy.text_encoders.flux", "Flux2TEModel"),),  # Mistral 3 (dev) and Qwen3 (Klein) subclass it
    latent_channels=128,
    latent_scale=16,
    guidance=True,  # dev reads it, Klein's model drops it (no guidance embedding)
    text_padding="zeros before",  # as the host pads FLUX.2's text (zeros in front, to 512 tokens)
    text_mask=False,  # its model reads no text mask: every token, padding included, is attended
)
