"""Tiny real host models built from configs (no weights can be downloaded): SD1.5- and SDXL-shaped
UNets, CLIP, VAE and ControlNet with random weights, and a sampler call on them. The host is imported
when a model is built (after harness.host.start), never at import."""

import contextlib
import logging

import torch

CPU = torch.device("cpu")
CONTEXT_DIM = 32
POOLED_DIM = CONTEXT_DIM  # comfy's CLIP pools to its own width
SDXL_SIZE_EMBEDDING = 6 * 256  # SDXL adds six 256-wide size/crop embeddings to the pooled text


def init_weights(module, seed=0, std=0.02):
    """The host's layers skip initialisation; give them small random weights."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Conv1d, torch.nn.Embedding)):
            m.weight.data = torch.randn(m.weight.shape, generator=gen) * std
            if getattr(m, "bias", None) is not None:
                m.bias.data.zero_()
        elif isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm)):
            if m.weight is not None:
                m.weight.data.fill_(1.0)
                m.bias.data.zero_()


def unet_config(kind, **overrides):
    config = dict(
        model_channels=32, channel_mult=[1, 2], num_res_blocks=[1, 1], transformer_depth=[1, 1],
        transformer_depth_output=[1, 1, 1, 1], transformer_depth_middle=1, context_dim=CONTEXT_DIM,
        in_channels=4, out_channels=4, num_head_channels=-1, num_heads=2, use_spatial_transformer=True,
        legacy=False, image_size=None, use_temporal_attention=False, use_temporal_resblock=False,
        use_linear_in_transformer=kind in ("sdxl", "sd2"), adm_in_channels=None,
    )
    if kind == "sdxl":
        config.update(adm_in_channels=POOLED_DIM + SDXL_SIZE_EMBEDDING, num_classes="sequential")
    config.update(overrides)
    return config


def tiny_model(kind="sd15", seed=0, **overrides):
    """A ModelPatcher around a tiny SD1.5-, SD2- or SDXL-shaped UNet with random weights. "sd2" is SD 2.x
    (`supported_models.SD20`: linear transformer layers, 16-wide heads here) as a v-prediction model, as SD 2.x
    768-v checkpoints are (the host tells them from a weight statistic that random weights do not have)."""
    import comfy.model_base
    import comfy.model_patcher
    import comfy.supported_models as supported_models

    if kind == "sdxl":
        family = supported_models.SDXL(unet_config(kind, **overrides))
        family.unet_config["num_head_channels"] = 16  # SDXL's 64-wide heads do not fit 32 channels
    elif kind == "sd2":
        family = supported_models.SD20(unet_config(kind, **overrides))
        family.unet_config["num_head_channels"] = 16  # as SDXL's
        family.model_type = lambda state_dict, prefix="": comfy.model_base.ModelType.V_PREDICTION
    else:
        family = supported_models.SD15(unet_config(kind, **overrides))
    model = family.get_model({})
    init_weights(model, seed)
    model.eval()
    return comfy.model_patcher.ModelPatcher(model, CPU, CPU)


UNET_KINDS = ("sd15", "sd2", "sdxl")
METHOD_QK_STD = 0.3


def method_model(kind="sd15", seed=0, qk_std=METHOD_QK_STD):
    """`tiny_model` whose self-attention query and key projections are wide (std `qk_std` instead of 0.02), so
    attention is far from uniform: then AdaIN, the score shift and the reference keys move the targets by
    1e-2 or more of their scale (with 0.02 AdaIN moves them by about 1e-5, the size of a float32 tolerance)."""
    patcher = tiny_model(kind, seed)
    gen = torch.Generator().manual_seed(seed + 100)
    for name, module in patcher.model.diffusion_model.named_modules():
        if name.endswith("attn1"):
            for projection in (module.to_q, module.to_k):
                projection.weight.data = torch.randn(projection.weight.shape, generator=gen) * qk_std
    return patcher


def calm_model(kind="sd15", seed=0, output_gain=0.01):
    """`tiny_model` whose output convolution is scaled by `output_gain`: the random network's large, fast-varying
    output (hundreds, with a random timestep embedding) made small, so the probability-flow ODE is smooth and a
    refined (fixed-point) DDIM inversion converges; Euler sampling then retraces it."""
    patcher = tiny_model(kind, seed)
    patcher.model.diffusion_model.out[-1].weight.data *= output_gain
    return patcher


DIT_STD = 0.1  # wide enough that attention is not uniform, so sharing visibly moves the targets


def with_host_keys(params_class, config, **keys):
    """`config` plus those of `keys` that the host's params dataclass asks for (v0.28 added required fields
    that v0.3.64 does not know, such as FluxParams' txt_ids_dims)."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(params_class)}
    return {**config, **{k: v for k, v in keys.items() if k in fields and k not in config}}


@contextlib.contextmanager
def uninitialised_as_nan():
    """Inside: memory torch.empty hands out is NaN (torch's deterministic fill), so what the host leaves
    uninitialised (SD3's position embedding buffer) is found, not left to whatever the memory held: finite
    garbage that made the tiny model's output differ from build to build, sometimes NaN."""
    import torch.utils.deterministic as deterministic

    previous = torch.are_deterministic_algorithms_enabled(), deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True)
    deterministic.fill_uninitialized_memory = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0])
        deterministic.fill_uninitialized_memory = previous[1]


def _tiny_dit(family_class, config, seed):
    """A ModelPatcher around a tiny DiT of the host's `family_class`, random weights and buffers (SD3's
    position embedding is a buffer the host leaves uninitialised)."""
    import comfy.model_patcher

    with uninitialised_as_nan():
        model = family_class(config).get_model({})
    init_weights(model, seed, std=DIT_STD)
    for module in model.modules():  # RMS norms (query/key norms) keep an uninitialised scale
        if "RMSNorm" in type(module).__name__:
            for parameter in module.parameters(recurse=False):
                parameter.data.fill_(1.0)
    gen = torch.Generator().manual_seed(seed + 1)
    for buffer in model.buffers():
        if buffer.is_floating_point() and not torch.isfinite(buffer).all():
            buffer.copy_(torch.randn(buffer.shape, generator=gen) * 0.02)
    model.eval()
    return comfy.model_patcher.ModelPatcher(model, CPU, CPU)


FLUX_CONFIG = dict(image_model="flux", in_channels=16, out_channels=16, vec_in_dim=32, context_in_dim=32,
                   hidden_size=64, mlp_ratio=2.0, num_heads=2, depth=2, depth_single_blocks=3, axes_dim=[4, 14, 14],
                   theta=10000, patch_size=2, qkv_bias=True)
SD3_CONFIG = dict(in_channels=16, out_channels=16, patch_size=2, depth=2, pos_embed_max_size=16, num_patches=256,
                  adm_in_channels=32, context_embedder_config={"target": "torch.nn.Linear",
                                                               "params": {"in_features": 32, "out_features": 128}})
QWEN_IMAGE_CONFIG = dict(image_model="qwen_image", in_channels=64, out_channels=16, num_layers=2,
                         attention_head_dim=32, num_attention_heads=2, joint_attention_dim=32,
                         axes_dims_rope=(8, 12, 12))


def tiny_flux(seed=0, guidance=True):
    """A tiny FLUX.1-dev-shaped DiT (schnell-shaped without guidance)."""
    import comfy.ldm.flux.model
    import comfy.supported_models as supported_models

    family = supported_models.Flux if guidance else supported_models.FluxSchnell
    config = with_host_keys(comfy.ldm.flux.model.FluxParams, dict(FLUX_CONFIG, guidance_embed=guidance),
                            txt_ids_dims=[])
    return _tiny_dit(family, config, seed)


def tiny_sd3(seed=0):
    """A tiny SD3-shaped MMDiT (hidden 128, 2 heads, 2 joint blocks, absolute positions); upstream only."""
    import comfy.supported_models as supported_models

    return _tiny_dit(supported_models.SD3, dict(SD3_CONFIG), seed)


def tiny_qwen_image(seed=0):
    """A tiny Qwen-Image-shaped DiT (2 joint blocks, RoPE; 5-D latents (B, 16, 1, H, W)); upstream only."""
    import comfy.supported_models as supported_models

    return _tiny_dit(supported_models.QwenImage, dict(QWEN_IMAGE_CONFIG), seed)


def tiny_unsupported(kind):
    """A tiny model of a family the pack does not support: "lumina2" (Lumina 2, no block hooks in the
    host) or "hunyuan_video" (a video model with Flux-like double and single blocks)."""
    import comfy.supported_models as supported_models

    if kind == "lumina2":
        config = dict(image_model="lumina2", patch_size=2, in_channels=16, dim=64, n_layers=2, n_refiner_layers=1,
                      n_heads=2, n_kv_heads=2, axes_dims=[8, 12, 12], axes_lens=[300, 512, 512], cap_feat_dim=32,
                      qk_norm=True)
        return _tiny_dit(supported_models.Lumina2, config, 0)
    import comfy.ldm.hunyuan_video.model as hunyuan_video

    config = dict(image_model="hunyuan_video", in_channels=16, out_channels=16, vec_in_dim=32, context_in_dim=32,
                  hidden_size=64, mlp_ratio=2.0, num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[4, 14, 14],
                  theta=256, patch_size=[1, 2, 2], qkv_bias=True, guidance_embed=False, byt5=False, meanflow=False)
    config = with_host_keys(hunyuan_video.HunyuanVideoParams, config, use_cond_type_embedding=False,
                            vision_in_dim=None, meanflow_sum=False)
    return _tiny_dit(supported_models.HunyuanVideo, config, 0)


def tiny_chroma(seed=0):
    """A tiny Chroma-shaped DiT (Flux's blocks, modulation from a small approximator instead of the pooled
    text and guidance embedders); upstream only."""
    import comfy.ldm.chroma.model
    import comfy.supported_models as supported_models

    config = dict(FLUX_CONFIG, image_model="chroma", in_channels=64, out_channels=64, in_dim=64, out_dim=64,
                  hidden_dim=64, n_layers=1)
    del config["vec_in_dim"]
    config = with_host_keys(comfy.ldm.chroma.model.ChromaParams, config, txt_ids_dims=[], vec_in_dim=None)
    return _tiny_dit(supported_models.Chroma, config, seed)


TINY_DITS = {"flux": tiny_flux, "flux_schnell": lambda seed=0: tiny_flux(seed, guidance=False),
             "chroma": tiny_chroma, "sd3": tiny_sd3, "qwen_image": tiny_qwen_image}


def dit_latent(kind, batch, size=8):
    """A zero latent of the DiT family's shape (16 channels; Qwen-Image's has a frame axis)."""
    if kind == "qwen_image":
        return torch.zeros(batch, 16, 1, size, size)
    return torch.zeros(batch, 16, size, size)


def dit_conditioning(kind, rows, seed=1, tokens=8, guidance=3.5):
    """CONDITIONING for a tiny DiT: context width 32, pooled rows where the family has them, Flux dev's
    guidance."""
    gen = torch.Generator().manual_seed(seed)
    extra = {}
    if kind in ("flux", "flux_schnell", "chroma", "sd3"):  # the host's Flux base class reads a pooled row
        extra["pooled_output"] = torch.randn(rows, 32, generator=gen)
    if kind == "flux":
        extra["guidance"] = guidance
    return [[torch.randn(rows, tokens, 32, generator=gen), extra]]


NARROW_SD15 = dict(model_channels=320, channel_mult=[1], num_res_blocks=[1], transformer_depth=[1],
                   transformer_depth_output=[1, 1], transformer_depth_middle=1, context_dim=768, num_heads=8)


def narrow_sd15(seed=0):
    """The 25.8M-parameter 'narrow SD1.5': real SD1.5 width (320 channels, 8 heads, context 768),
    one level, for benchmarks at real attention sizes."""
    return tiny_model("sd15", seed, **NARROW_SD15)


def conditioning(kind, rows, seed=1, tokens=77, width=CONTEXT_DIM):
    """CONDITIONING with `rows` prompt rows (one per latent row when rows == batch)."""
    gen = torch.Generator().manual_seed(seed)
    extra = {}
    if kind == "sdxl":
        extra["pooled_output"] = torch.randn(rows, POOLED_DIM, generator=gen)
    return [[torch.randn(rows, tokens, width, generator=gen), extra]]


def sample(model_patcher, kind, batch, steps=3, cfg=5.0, sampler="euler", seed=0, positive=None,
           negative=None, size=8):
    """Sample a tiny model of `kind` (sd15, sdxl, or a key of TINY_DITS) with random conditioning."""
    import comfy.sample

    dit = kind in TINY_DITS
    latent = dit_latent(kind, batch, size) if dit else torch.zeros(batch, 4, size, size)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(seed))
    prompts = dit_conditioning if dit else conditioning
    positive = positive if positive is not None else prompts(kind, batch, seed=1)
    negative = negative if negative is not None else prompts(kind, 1, seed=2)
    return comfy.sample.sample(model_patcher, noise, steps, cfg, sampler, "normal", positive, negative, latent,
                               disable_pbar=True, seed=seed)


def _tiny_text_config(width):
    return {
        "architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0,
        "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": width, "initializer_factor": 1.0,
        "initializer_range": 0.02, "intermediate_size": 64, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
        "model_type": "clip_text_model", "num_attention_heads": 2, "num_hidden_layers": 3, "pad_token_id": 1,
        "projection_dim": width, "torch_dtype": "float32", "vocab_size": 49408,
    }


def tiny_clip(kind="sd15", seed=0):
    """A real host CLIP (tokenizer with the real CLIP vocabulary, tiny text transformer).

    sd15: SD1 CLIP-L layout with width 32. sdxl: SDXL's tokenizer with a CLIP-G-only text
    encoder of width 32; its pooled output feeds the tiny SDXL UNet's size embedding.
    """
    import comfy.sd
    import comfy.sd1_clip
    import comfy.sdxl_clip

    if kind == "sdxl":
        clip_class, tokenizer, name = comfy.sdxl_clip.SDXLRefinerClipModel, comfy.sdxl_clip.SDXLTokenizer, "clip_g"
    else:
        clip_class, tokenizer, name = comfy.sd1_clip.SD1ClipModel, comfy.sd1_clip.SD1Tokenizer, "clip_l"
    config = _tiny_text_config(CONTEXT_DIM)
    with torch.no_grad():  # the host's CLIP constructor writes into a parameter
        # config keys overridden through model_options["<name>_model_config"]
        from comfy.supported_models_base import ClipTarget

        clip = comfy.sd.CLIP(target=ClipTarget(tokenizer, clip_class),
                             model_options={f"{name}_model_config": config, "dtype": torch.float32})
    init_weights(clip.cond_stage_model, seed)
    return clip


def tiny_controlnet(kind="sd15", seed=3):
    """A real host ControlNet with the tiny UNet's layout (random, non-zero residuals)."""
    import comfy.cldm.cldm
    import comfy.controlnet

    config = unet_config(kind)
    if kind == "sdxl":
        config["num_head_channels"] = 16
    control_model = comfy.cldm.cldm.ControlNet(hint_channels=3, **config)
    init_weights(control_model, seed)
    return comfy.controlnet.ControlNet(control_model, load_device=CPU, manual_cast_dtype=None)


def with_control(positive, negative, control_net, size=8, strength=1.0, seed=4):
    """Apply a ControlNet to a positive and negative CONDITIONING with the stock Apply ControlNet node
    (`ControlNetApplyAdvanced`: both hosts have it; the older `ControlNetApply` is deprecated upstream),
    on a random hint image: (positive, negative), as the node returns them."""
    import nodes

    hint = torch.rand(1, size * 8, size * 8, 3, generator=torch.Generator().manual_seed(seed))
    return tuple(nodes.ControlNetApplyAdvanced().apply_controlnet(positive, negative, control_net, hint, strength,
                                                                  0.0, 1.0))


def tiny_vae(seed=5):
    """A real host VAE (AutoencoderKL, 8x down-sampling, 4 latent channels) a few channels wide."""
    import comfy.sd

    ddconfig = {"double_z": True, "z_channels": 4, "resolution": 64, "in_channels": 3, "out_ch": 3, "ch": 32,
                "ch_mult": [1, 1, 1, 1], "num_res_blocks": 1, "attn_resolutions": [], "dropout": 0.0}
    logging.disable(logging.WARNING)  # "missing VAE keys": there are no weights, we initialise them below
    try:
        vae = comfy.sd.VAE(sd={}, config={"params": {"ddconfig": ddconfig, "embed_dim": 4}})
    finally:
        logging.disable(logging.NOTSET)
    init_weights(vae.first_stage_model, seed)
    return vae


