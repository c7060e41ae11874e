"""Tiny real host text encoders and VAEs for the tiny DiTs of harness.tiny_models (upstream ComfyUI only).

The tokenizers are the host's own (they ship with ComfyUI: CLIP's vocabulary, comfy/text_encoders/
t5_tokenizer, qwen25_tokenizer); the encoders are the host's classes with tiny configs passed the way
the host takes overrides (model_options["<name>_model_config"]) and random weights. Their widths fit the
tiny models' context width 32 (tiny_models.CONTEXT_DIM):

- flux / flux_schnell: the host's FluxClipModel, CLIP-L (width 32, its pooled output is the pooled row)
  and T5 (d_model 32, the context); the host pads T5 to at least 256 tokens.
- sd3: the host's SD3ClipModel with CLIP-L and CLIP-G, 16 wide each: the pooled row is their two
  pooled outputs (32). The host concatenates their tokens and pads the features with zeros to T5's
  4096 columns; T5 itself is left out (see tiny_dit_clip), and a thin adapter keeps the 32 columns that
  hold the encoders' features (the rest is the host's zero padding) for the tiny SD3's 32-wide input.
- qwen_image: the host's Qwen2.5-VL text model (QwenImageTEModel: chat template, template tokens cut
  off) with hidden size 32; no pooled output. Its vision tower has a fixed 1280-wide, 32-layer shape in
  the host, so it is dropped: text prompts never call it.

The host is imported when something is built (after harness.host.start), never at import."""

import inspect
import logging

import torch

from . import tiny_models

CONTEXT_DIM = tiny_models.CONTEXT_DIM
DIT_KINDS = ("flux", "flux_schnell", "sd3", "qwen_image")
# T5 as small as the host's T5 code allows: context width 32 (Flux's context_in_dim)
TINY_T5 = dict(d_model=CONTEXT_DIM, d_ff=64, d_kv=16, num_heads=2, num_layers=2, relative_attention_num_buckets=32)
TINY_QWEN25 = dict(hidden_size=CONTEXT_DIM, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                   num_key_value_heads=1)
SD3_HALF = CONTEXT_DIM // 2  # CLIP-L and CLIP-G width: their pooled outputs concatenate to 32


def _sd3_clip_class():
    import comfy.text_encoders.sd3_clip as sd3_clip

    class TinySD3ClipModel(sd3_clip.sd3_clip(clip_l=True, clip_g=True, t5=False)):
        """The host's SD3 encoder; the context keeps the CLIP-L + CLIP-G columns (the host pads them with
        zeros to 4096), the width of the tiny SD3's context embedder."""

        def encode_token_weights(self, token_weight_pairs):
            out, pooled, extra = super().encode_token_weights(token_weight_pairs)
            return out[..., :2 * SD3_HALF], pooled, extra

    return TinySD3ClipModel


def _target(kind):
    """(ClipTarget, model_options) of the host's text encoder for `kind`, tiny configs."""
    from comfy.supported_models_base import ClipTarget

    text = tiny_models._tiny_text_config  # the tiny CLIP text config of tiny_clip
    if kind in ("flux", "flux_schnell"):
        import comfy.text_encoders.flux as flux

        return ClipTarget(flux.FluxTokenizer, flux.flux_clip()), {"clip_l_model_config": text(CONTEXT_DIM),
                                                                    "t5xxl_model_config": dict(TINY_T5)}
    if kind == "sd3":
        import comfy.text_encoders.sd3_clip as sd3_clip

        return ClipTarget(sd3_clip.SD3Tokenizer, _sd3_clip_class()), {"clip_l_model_config": text(SD3_HALF),
                                                                       "clip_g_model_config": text(SD3_HALF)}
    if kind == "qwen_image":
        import comfy.text_encoders.qwen_image as qwen_image

        return ClipTarget(qwen_image.QwenImageTokenizer, qwen_image.te()), {"qwen25_7b_model_config":
                                                                             dict(TINY_QWEN25)}
    raise ValueError(f"no tiny text encoder for {kind!r}: one of {', '.join(DIT_KINDS)}")


def tiny_dit_clip(kind, seed=0):
    """A comfy.sd.CLIP with the host's text encoder of the DiT family `kind` (flux, flux_schnell, sd3,
    qwen_image), tiny and random, whose context and pooled widths fit tiny_models.TINY_DITS[kind]."""
    import comfy.model_management
    import comfy.sd

    target, model_options = _target(kind)
    with torch.no_grad():  # the host's CLIP constructor writes into a parameter
        clip = comfy.sd.CLIP(target=target, model_options={**model_options, "dtype": torch.float32})
    model = clip.cond_stage_model
    if kind == "qwen_image":
        model.qwen25_7b.transformer.visual = None  # fixed full-size vision tower, never used by text prompts
        clip.patcher.size = comfy.model_management.module_size(model)
    tiny_models.init_weights(model, seed)
    for module in model.modules():  # RMS norms (T5's layer norm, Qwen's) keep an uninitialised scale
        if "RMSNorm" in type(module).__name__ or "T5LayerNorm" in type(module).__name__:
            for parameter in module.parameters(recurse=False):
                parameter.data.fill_(1.0)
    return clip


def _quiet_vae(**kwargs):
    import comfy.sd

    logging.disable(logging.WARNING)  # "missing VAE keys": there are no weights, they are initialised after
    try:
        return comfy.sd.VAE(**kwargs)
    finally:
        logging.disable(logging.NOTSET)


def _wan21_vae_names():
    """The weights the host recognises a Wan 2.1 VAE by, with the shapes of the VAE it then builds: v0.28 reads
    its width from `decoder.head.0.gamma` (8 here, a small throwaway), v0.3.64 fixes it at 96."""
    import comfy.sd

    if "decoder.head.0.gamma" not in inspect.getsource(comfy.sd.VAE.__init__):
        return {"decoder.middle.0.residual.0.gamma": torch.ones(384, 1, 1, 1)}
    return {"decoder.middle.0.residual.0.gamma": torch.ones(32, 1, 1, 1),
            "decoder.head.0.gamma": torch.ones(8, 1, 1, 1), "encoder.conv1.weight": torch.zeros(8, 3, 3, 3, 3),
            "decoder.head.2.weight": torch.zeros(3, 8, 3, 3, 3)}


def tiny_dit_vae(kind, seed=5):
    """A real host VAE for the DiT family's 16-channel latents, 8x down-sampling.

    flux / flux_schnell / sd3: AutoencoderKL with z_channels 16 (as their VAEs), a few channels wide.
    qwen_image: the host's Wan 2.1 VAE wrapper (recognised from its weights' names: 3-D latents, 16
    channels, frames 4x and pixels 8x down-sampled) around a tiny comfy.ldm.wan.vae.WanVAE (the host
    fixes the Wan VAE's width at 96; a random 127M-parameter VAE would be pointless here). It decodes
    (B, 16, 1, H, W) latents to (B, 1, 8H, 8W, 3) images; VAEDecode flattens the frame axis."""
    if kind not in DIT_KINDS:
        raise ValueError(f"no tiny VAE for {kind!r}: one of {', '.join(DIT_KINDS)}")
    if kind == "qwen_image":
        import comfy.ldm.wan.vae as wan_vae
        import comfy.model_management
        import comfy.model_patcher

        vae = _quiet_vae(sd=_wan21_vae_names())
        model = wan_vae.WanVAE(dim=8, z_dim=vae.latent_channels, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                               temperal_downsample=[False, True, True])
        tiny_models.init_weights(model, seed)  # its Conv2d; the Conv3d here, the RMS norms' gamma start at 1
        gen = torch.Generator().manual_seed(seed + 1)
        for module in model.modules():
            if isinstance(module, torch.nn.Conv3d):
                module.weight.data = torch.randn(module.weight.shape, generator=gen) * 0.02
                module.bias.data.zero_()
        vae.first_stage_model = model.eval().to(vae.vae_dtype)
        vae.patcher = comfy.model_patcher.ModelPatcher(model, load_device=vae.device,
                                                       offload_device=comfy.model_management.vae_offload_device())
        return vae
    ddconfig = {"double_z": True, "z_channels": 16, "resolution": 64, "in_channels": 3, "out_ch": 3, "ch": 32,
                "ch_mult": [1, 1, 1, 1], "num_res_blocks": 1, "attn_resolutions": [], "dropout": 0.0}
    vae = _quiet_vae(sd={}, config={"params": {"ddconfig": ddconfig, "embed_dim": 16}})
    vae.latent_channels = 16  # the host reads this from the weights it detects; a config build keeps 4
    tiny_models.init_weights(vae.first_stage_model, seed)
    return vae
