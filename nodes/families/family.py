"""What a model family is to the patch: one small record per family (the files beside this one), read by the
generic DiT hooks in dit.py. A record says which host model config classes it covers, where its attention
blocks are and how the running block is known, where the image tokens sit in each attention call, where
positions come from, and what a batch of its latents looks like. Adding a family is adding a record (and its
tests); no other file learns family names."""

import dataclasses
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Blocks:
    """One list of attention blocks of a diffusion model.

    kind: our name for them in layer lists ("double", "single", "joint", "layer", ...); path: the attribute of
    the block list on the diffusion model. The running block is known from the host's "dit" block replace named
    `replace` (it hands us the block's arguments: text and image apart, and the rotations `pe`), or, for models
    that offer no replace, from a marker on the forward of `attention` (a sub-module path of each block; empty:
    the block itself), whose rotations are the argument `pe` (its name, or its position after self). A block
    whose attention runs in two modules (a joint one, then an image-only one) is listed twice, with the same kind
    and path: one layer that shares in both."""

    kind: str
    path: str
    replace: str = None
    attention: str = ""
    pe: object = None


@dataclass(frozen=True)
class Family:
    name: str  # as users know it, in messages and the README
    config_classes: tuple  # the host's model config classes (comfy.supported_models) of this family
    blocks: tuple  # of Blocks
    presets: dict = field(default_factory=dict)  # layer mode -> the kinds it selects; "auto" is the default
    image: object = "after text"  # where the image tokens are in a shared call: "after text" (the text length
    # comes from the blocks that see text apart), "end", "start", or "all" (image-only self-attention); or a
    # function of the diffusion model giving one of these, where the order differs between host versions
    pad: int = 1  # the image tokens are padded to a multiple of this (Z-Image: 32)
    rope: bool = True  # positions are turned inside attention (else added at the input)
    embedder: str = "pe_embedder"  # the diffusion model's rotary embedder (axes_dim, theta)
    width_axis: int = 2  # the rotary axis of the image's width
    patch: str = "patch_size"  # the diffusion model's patch size attribute (or a number)
    shared_calls: str = "any"  # "self": only calls whose keys are as long as the queries (not cross-attention)
    # what a batch of this family's prompts and latents is (the batch-prompts and inversion nodes read these):
    text_encoders: tuple = ()  # (module, class) of the host's text encoder model (clip.cond_stage_model or a base)
    latent_channels: int = 16
    latent_scale: int = 8  # pixels per latent cell
    latent_frames: bool = False  # latents carry a frame axis (B, C, T, H, W): video, or one-frame images
    temporal_scale: int = 0  # video: frames per latent frame after the first (T video frames are (T - 1) / s + 1
    # latent frames); 0: images, one frame
    guidance: bool = False  # the conditioning carries a distilled guidance value (as CLIPTextEncodeFlux writes it)
    text_mask: bool = True  # a batch's padded prompts carry the encoder's attention mask (HunyuanImage 2.1's
    # model fails on a mask of more than one row: its padding is then attended, as CLIP's is)
    token_extras: tuple = ()  # conditioning keys of per-prompt token rows (1, T_i, C), padded with zeros to
    # one length (as the host's encoders zero masked tokens) and zeros where a prompt has none (byT5 glyphs)
    text_padding: str = "empty prompt"  # how a batch's shorter prompts reach one length: the empty prompt's tokens
    # after them, or "zeros before", as a model that pads its text itself does (FLUX.2: zeros in front, to 512
    # tokens), so each row reaches the model as that prompt alone would

    def for_model(self, diffusion_model):
        """This record with what it reads from the model (an `image` given as a function) decided."""
        return dataclasses.replace(self, image=self.image(diffusion_model)) if callable(self.image) else self

    def patch_size(self, diffusion_model):
        """The model's patch size as it states it: a number (height and width) or one per latent axis."""
        patch = self.patch if isinstance(self.patch, (int, tuple)) else getattr(diffusion_model, self.patch)
        return patch if isinstance(patch, int) else tuple(patch)

    @staticmethod
    def image_tokens(latent_shape, patch):
        """How many image tokens one latent row (B, C, [frames,] height, width) makes: frames x rows x columns
        of patches; a single number is the patch's height and width (frames are not patched then)."""
        dims = len(latent_shape) - 2
        patch = (patch,) * 2 if isinstance(patch, int) else tuple(patch)
        patch = (1,) * (dims - len(patch)) + patch[-dims:]
        return math.prod(math.ceil(n / p) for n, p in zip(latent_shape[2:], patch, strict=True))

    def image_slice(self, length, tokens, text=None):
        """Where `tokens` image tokens are in an attention call over `length` tokens, or None when this call is
        not one of the shape this family shares (then it runs plainly)."""
        padded = math.ceil(tokens / self.pad) * self.pad
        if self.image == "all":
            return slice(0, length) if length == tokens else None
        if self.image == "start":
            return slice(0, tokens) if length >= padded else None
        if self.image == "end":
            return slice(length - padded, length - padded + tokens) if length >= padded else None
        if length == tokens:  # an image-only attention of a joint block (SD3.5's second attention)
            return slice(0, length)
        if text is None or length < text + tokens:  # "after text", and no block has said how long the text is
            return None
        return slice(text, text + tokens)
