"""Wan 2.1 / 2.2 text-to-video (WAN21_T2V: 2.1 1.3B / 14B and 2.2 A14B, 16-channel latents at /8; WAN22_T2V: 2.2
TI2V 5B, 48 channels at /16). Latents are clips (B, C, frames, height, width); each block runs a self-attention
over the clip's tokens only (frame-major, rotary axes frame, height, width) and a cross-attention to the umT5
text. A target clip attends to its own tokens and to every token of the reference clip, every frame of it.

Only the self-attention is marked (a marker on `blocks.N.self_attn.forward`, whose argument `freqs` holds
the rotations), so a cross-attention call never reaches the method: its keys cannot be told from the
clip's by length alone, as umT5 pads every prompt to 512 tokens and a clip of 512 tokens (a 5-frame 256 x 256
Wan 2.1 clip) is common. `shared_calls="self"` stays as a second guard.

Layers: every block (auto = all). The blocks are all alike (self, cross, feed-forward), no study has found a
style or layout block in Wan, and StyleAligned shares in every self-attention layer; users can narrow it with
custom ranges (block_10-29) or a fraction."""

from .family import Blocks, Family

FAMILY = Family(
    name="Wan 2.1 / 2.2 (text to video)",
    config_classes=("WAN21_T2V", "WAN22_T2V"),
    blocks=(Blocks("block", "blocks", attention="self_attn", pe="freqs"),),
    presets={"auto": ("block",)},
    image="all",  # the self-attention sees the clip's tokens and nothing else
    shared_calls="self",
    embedder="rope_embedder",
    width_axis=2,  # rotary axes (frame, height, width)
    text_encoders=(("comfy.text_encoders.wan", "WanT5Model"),),
    latent_channels=16,  # WAN22_T2V: 48 at /16 (the nodes read the connected model's latent format)
    latent_frames=True,
    temporal_scale=4,  # the Wan VAEs keep the first frame and pack 4 frames per latent frame after it
)
