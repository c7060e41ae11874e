"""HunyuanImage 2.1: Flux-like double- and single-stream blocks through the host's "dit" replace (their mask
argument is named `attention_mask`); a token refiner attends over the text before the blocks (never shared);
rotary axes (row, column), theta 256; 64-channel latents at 1/32, one token per latent cell. The token order
changed between hosts: v0.3.64 attends over (image, text) (its double blocks are built `flipped_img_txt`),
v0.28 over (text, byT5 glyph tokens, image)."""

from .family import Blocks, Family


def _image_place(diffusion_model):
    """Where the image tokens are on this host: first where the double blocks put the image before the text."""
    blocks = diffusion_model.double_blocks
    return "start" if len(blocks) and getattr(blocks[0], "flipped_img_txt", False) else "after text"


FAMILY = Family(
    name="HunyuanImage 2.1",
    config_classes=("HunyuanImage21",),
    blocks=(Blocks("double", "double_blocks", replace="double_block"),
            Blocks("single", "single_blocks", replace="single_block")),
    presets={"auto": ("single",), "single-stream blocks": ("single",), "double-stream blocks": ("double",)},
    image=_image_place,
    width_axis=1,
    text_encoders=(("comfy.text_encoders.hunyuan_image", "HunyuanImageTEModel"),),
    latent_channels=64,
    latent_scale=32,
    text_mask=False,  # the host's model fails on a text mask of more than one row (or with byT5 tokens)
    token_extras=("conditioning_byt5small",),  # byT5 glyph tokens of quoted text, where a prompt has some
)
