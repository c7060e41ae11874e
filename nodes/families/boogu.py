"""Boogu (an OmniGen2 derivative): double-stream layers, each a joint attention over the instruction then the
image and an image-only self-attention after it, then single-stream layers over the instruction then the image
(edit references sit between them, the image is always last). The instruction and image refiners before them
run plainly. The host offers no block replace, so each layer's attention modules mark the running layer. Keys
and values come in fewer (grouped) heads. AlignedGen's choice on Flux: the single-stream layers share."""

from .family import Blocks, Family

FAMILY = Family(
    name="Boogu",
    config_classes=("Boogu",),
    blocks=(Blocks("double", "double_stream_layers", attention="img_instruct_attn", pe="rotary_emb"),
            Blocks("double", "double_stream_layers", attention="img_self_attn", pe="image_rotary_emb"),
            Blocks("single", "single_stream_layers", attention="attn", pe="image_rotary_emb")),
    presets={"auto": ("single",), "single-stream blocks": ("single",), "double-stream blocks": ("double",)},
    image="end",
    embedder="rope_embedder",
    text_encoders=(("comfy.text_encoders.boogu", "BooguTEModel"),),
)
