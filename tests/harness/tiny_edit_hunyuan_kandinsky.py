"""Tiny HunyuanImage 2.1-, Kandinsky 5 Image- and Qwen-Image-Edit-shaped models built from configs in the real host
(random weights, see tiny_models._tiny_dit), their latents and conditioning, and a sampler call on them. The host
is imported when a model is built, never at import.

- HunyuanImage 2.1: Flux-like double and single blocks, a token refiner, 64-channel latents (one token per latent
  cell), byT5 glyph tokens after the text (v0.28), guidance-distilled; exists on both hosts.
- Kandinsky 5 Image (lite): text blocks, then visual blocks (image-only self-attention, cross-attention); a pooled
  CLIP-L row is required; v0.28 only.
- Qwen-Image-Edit: the tiny Qwen-Image with edit reference latents in the conditioning (one per row, appended
  after the target's image tokens); "2511": the reference method "index_timestep_zero" (v0.28 only).
"""

import torch

from . import tiny_models as tiny

CONTEXT = 32  # text width of every tiny model here
BYT5_WIDTH = 1472  # the host's byT5 mapper input (fixed in HunyuanImage 2.1's model)
BYT5_TOKENS = 4
SIZES = {"hunyuan_image": 4, "kandinsky5": 8, "qwen_image_edit": 8, "qwen_image_edit_2511": 8}  # latent cells
CHANNELS = {"hunyuan_image": 64, "kandinsky5": 16, "qwen_image_edit": 16, "qwen_image_edit_2511": 16}

HUNYUAN_IMAGE_CONFIG = dict(image_model="hunyuan_video", in_channels=64, out_channels=64, patch_size=[1, 1],
                            vec_in_dim=None, axes_dim=[16, 16], theta=256, context_in_dim=CONTEXT, hidden_size=64,
                            num_heads=2, mlp_ratio=2.0, depth=1, depth_single_blocks=2, qkv_bias=True, byt5=True,
                            guidance_embed=True, meanflow=False)
KANDINSKY5_CONFIG = dict(image_model="kandinsky5", model_dim=64, visual_embed_dim=64, in_visual_dim=16,
                         out_visual_dim=16, in_text_dim=CONTEXT, in_text_dim2=CONTEXT, time_dim=32, ff_dim=128,
                         patch_size=(1, 2, 2), num_text_blocks=1, num_visual_blocks=2, axes_dims=(8, 12, 12),
                         rope_scale_factor=(1.0, 1.0, 1.0))  # the lite image model's (model_detection)


def tiny_hunyuan_image(seed=0):
    """A tiny HunyuanImage 2.1 (hidden 64, 2 heads of 32, 1 double + 2 single blocks, byT5 mapper)."""
    import comfy.ldm.hunyuan_video.model as hunyuan_video
    import comfy.supported_models as supported_models

    config = tiny.with_host_keys(hunyuan_video.HunyuanVideoParams, dict(HUNYUAN_IMAGE_CONFIG),
                                 use_cond_type_embedding=False, vision_in_dim=None, meanflow_sum=False)
    return tiny._tiny_dit(supported_models.HunyuanImage21, config, seed)


def tiny_kandinsky5(seed=0):
    """A tiny Kandinsky 5 Image (model 64, 2 heads of 32, 1 text block, 2 visual blocks); v0.28 only."""
    import comfy.supported_models as supported_models

    return tiny._tiny_dit(supported_models.Kandinsky5Image, dict(KANDINSKY5_CONFIG), seed)


def tiny_qwen_image_edit(seed=0, timestep_zero=False):
    """The tiny Qwen-Image (edit references come with the conditioning); timestep_zero: Edit-2511's reference
    method "index_timestep_zero" as the host detects it from the checkpoint (v0.28 only)."""
    import comfy.supported_models as supported_models

    config = dict(tiny.QWEN_IMAGE_CONFIG)
    if timestep_zero:
        config["default_ref_method"] = "index_timestep_zero"
    return tiny._tiny_dit(supported_models.QwenImage, config, seed)


TINY = {"hunyuan_image": tiny_hunyuan_image, "kandinsky5": tiny_kandinsky5, "qwen_image_edit": tiny_qwen_image_edit,
        "qwen_image_edit_2511": lambda seed=0: tiny_qwen_image_edit(seed, timestep_zero=True)}


def latent(kind, batch, size=None):
    """A zero latent of the family's shape (Qwen-Image's rows have a frame axis)."""
    size = size or SIZES[kind]
    if kind.startswith("qwen"):
        return torch.zeros(batch, CHANNELS[kind], 1, size, size)
    return torch.zeros(batch, CHANNELS[kind], size, size)


def edit_references(rows, size=6, seed=7):
    """One edit reference latent per row (B, 16, 1, size, size): each row edits its own image (as a batch of
    TextEncodeQwenImageEditPlus conditionings, one per input image, puts them)."""
    return torch.randn(rows, 16, 1, size, size, generator=torch.Generator().manual_seed(seed))


def conditioning(kind, rows, seed=1, tokens=8, guidance=3.5):
    """CONDITIONING for a tiny model of `kind`: HunyuanImage's byT5 glyph rows and guidance, Kandinsky's pooled
    CLIP-L row, Qwen-Image-Edit's reference latents (one per row)."""
    gen = torch.Generator().manual_seed(seed)
    extra = {}
    if kind == "hunyuan_image":
        extra.update(conditioning_byt5small=torch.randn(rows, BYT5_TOKENS, BYT5_WIDTH, generator=gen) * 0.1,
                     guidance=guidance)
    elif kind == "kandinsky5":
        extra["pooled_output"] = torch.randn(rows, CONTEXT, generator=gen)
    else:
        extra["reference_latents"] = [edit_references(rows, seed=seed + 6)]
    return [[torch.randn(rows, tokens, CONTEXT, generator=gen), extra]]


def sample(model_patcher, kind, batch, steps=2, cfg=1.0, sampler="euler", seed=0, positive=None, negative=None,
           size=None):
    """Sample a tiny model of `kind` (a key of TINY) with random conditioning."""
    import comfy.sample

    empty = latent(kind, batch, size)
    noise = torch.randn(empty.shape, generator=torch.Generator().manual_seed(seed))
    positive = positive if positive is not None else conditioning(kind, batch, seed=1)
    negative = negative if negative is not None else conditioning(kind, 1 if not kind.startswith("qwen") else batch,
                                                                  seed=2)
    return comfy.sample.sample(model_patcher, noise, steps, cfg, sampler, "normal", positive, negative, empty,
                               disable_pbar=True, seed=seed)


# ---------------------------------------------------------------- text encoders and VAEs (the host's classes)

TINY_BYT5 = dict(d_model=BYT5_WIDTH, d_ff=64, d_kv=16, num_heads=2, num_layers=1, relative_attention_num_buckets=32)
TINY_VISION = dict(hidden_size=32, intermediate_size=64, num_heads=2, num_layers=1)  # Qwen2.5-VL's vision tower


def _tiny_clip(target, model_options, seed):
    """A comfy.sd.CLIP of the host's `target` with tiny configs and random weights (as tiny_dit_text's)."""
    import comfy.model_management
    import comfy.sd

    from . import tiny_dit_text

    with torch.no_grad():  # the host's CLIP constructor writes into a parameter
        clip = comfy.sd.CLIP(target=target, model_options={**model_options, "dtype": torch.float32})
    qwen = clip.cond_stage_model.qwen25_7b.transformer
    qwen.visual = None  # the host's full-size vision tower; text prompts never call it
    tiny.init_weights(clip.cond_stage_model, seed)
    for module in clip.cond_stage_model.modules():  # RMS norms keep an uninitialised scale
        if "RMSNorm" in type(module).__name__ or "T5LayerNorm" in type(module).__name__:
            for parameter in module.parameters(recurse=False):
                parameter.data.fill_(1.0)
    clip.patcher.size = comfy.model_management.module_size(clip.cond_stage_model)
    assert tiny_dit_text.CONTEXT_DIM == CONTEXT
    return clip


def tiny_hunyuan_image_clip(seed=0):
    """The host's HunyuanImage 2.1 text encoder (CLIP type HUNYUAN_IMAGE): Qwen2.5-VL (32 wide, 4 layers, hidden
    layer -3) and the byT5 glyph encoder for quoted text (1472 wide, as the model's byT5 mapper takes it; one layer)."""
    import comfy.text_encoders.hunyuan_image as hunyuan_image
    from comfy.supported_models_base import ClipTarget

    from . import tiny_dit_text

    # the host builds byT5 with the pipeline's own options, named by no model: "_model_config" reaches it
    qwen = dict(tiny_dit_text.TINY_QWEN25, num_hidden_layers=4)  # the encoder reads hidden layer -3
    options = {"qwen25_7b_model_config": qwen, "_model_config": dict(TINY_BYT5)}
    return _tiny_clip(ClipTarget(hunyuan_image.HunyuanImageTokenizer, hunyuan_image.te(byt5=True)), options, seed)


def tiny_kandinsky5_clip(seed=0):
    """The host's Kandinsky 5 Image text encoder: Qwen2.5-VL (32 wide) and CLIP-L, whose pooled output (32) is
    the model's pooled row."""
    import comfy.text_encoders.kandinsky5 as kandinsky5
    from comfy.supported_models_base import ClipTarget

    from . import tiny_dit_text

    options = {"qwen25_7b_model_config": dict(tiny_dit_text.TINY_QWEN25), "clip_l_model_config":
               tiny._tiny_text_config(CONTEXT)}
    return _tiny_clip(ClipTarget(kandinsky5.Kandinsky5TokenizerImage, kandinsky5.te()), options, seed)


def with_tiny_vision(clip, seed=0):
    """A Qwen-Image CLIP (tiny_dit_text's, without its vision tower) given a tiny one: the host's
    Qwen2VLVisionTransformer with one layer, 32 wide, so the edit text-encode nodes can read images."""
    import comfy.model_management
    import comfy.ops
    import comfy.text_encoders.qwen_vl as qwen_vl

    qwen = clip.cond_stage_model.qwen25_7b.transformer
    if getattr(qwen, "visual", None) is None:
        qwen.visual = qwen_vl.Qwen2VLVisionTransformer(output_hidden_size=CONTEXT, ops=comfy.ops.manual_cast,
                                                       dtype=torch.float32, **TINY_VISION)
        tiny.init_weights(qwen.visual, seed)
        gen = torch.Generator().manual_seed(seed + 1)
        for module in qwen.visual.modules():
            if "RMSNorm" in type(module).__name__:
                for parameter in module.parameters(recurse=False):
                    parameter.data.fill_(1.0)
            elif isinstance(module, torch.nn.Conv3d):  # the patch embedding (init_weights skips 3-D convolutions)
                module.weight.data = torch.randn(module.weight.shape, generator=gen) * 0.02
        clip.patcher.size = comfy.model_management.module_size(clip.cond_stage_model)
    return clip


def tiny_hunyuan_image_vae(seed=5):
    """A VAE for HunyuanImage 2.1's latents: 64 channels, 32x down-sampling (an AutoencoderKL a few channels wide
    with six levels; the host's own HunyuanImage VAE is 1024 wide)."""
    from . import tiny_dit_text

    ddconfig = {"double_z": True, "z_channels": 64, "resolution": 64, "in_channels": 3, "out_ch": 3, "ch": 32,
                "ch_mult": [1] * 6, "num_res_blocks": 1, "attn_resolutions": [], "dropout": 0.0}
    vae = tiny_dit_text._quiet_vae(sd={}, config={"params": {"ddconfig": ddconfig, "embed_dim": 64}})
    vae.latent_channels, vae.downscale_ratio, vae.upscale_ratio = 64, 32, 32
    tiny.init_weights(vae.first_stage_model, seed)
    return vae


# ---------------------------------------------------------------- for tiny_pack (the server tests' loaders)

KINDS = ("hunyuan_image", "kandinsky5", "qwen_image_edit_2511")  # the tiny_pack loaders' kinds of this module


def tiny_kit(kind, seed=0):
    """(MODEL, CLIP, VAE) of a tiny model of `kind` (one of KINDS) with the host's own text encoder."""
    from . import tiny_dit_text

    if kind == "hunyuan_image":
        return tiny_hunyuan_image(seed), tiny_hunyuan_image_clip(seed), tiny_hunyuan_image_vae(seed)
    if kind == "kandinsky5":
        return tiny_kandinsky5(seed), tiny_kandinsky5_clip(seed), tiny_dit_text.tiny_dit_vae("flux", seed)
    clip = with_tiny_vision(tiny_dit_text.tiny_dit_clip("qwen_image", seed), seed)
    return TINY[kind](seed), clip, tiny_dit_text.tiny_dit_vae("qwen_image", seed)
