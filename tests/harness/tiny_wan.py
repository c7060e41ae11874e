"""Tiny Wan 2.1 / 2.2 video DiTs built from configs (the host's WAN21_T2V and WAN22_T2V, random weights), their
conditioning and latents, a sampler call on them, and the host's umT5 text encoder and Wan VAEs, tiny and random,
for the nodes and the server. The host is imported when something is built."""

import functools
import io
import math

import torch

from . import tiny_dit_text
from . import tiny_models as tiny

TEXT_DIM = 32  # the context width of the tiny models (umT5-XXL's is 4096)
# 2 heads of 32 channels: rotary axes (frame, height, width) [12, 10, 10]
WAN_CONFIG = dict(image_model="wan2.1", model_type="t2v", patch_size=(1, 2, 2), text_len=512, dim=64, ffn_dim=128,
                  freq_dim=256, text_dim=TEXT_DIM, num_heads=2, num_layers=2, window_size=(-1, -1), qk_norm=True,
                  cross_attn_norm=True, eps=1e-6)
KINDS = {"wan21": ("WAN21_T2V", 16), "wan22": ("WAN22_T2V", 48)}  # kind -> (config class, latent channels)


def _init_rest(model, seed, std=tiny.DIT_STD):
    """The parameters harness.tiny_models.init_weights does not reach (the patch embedding's Conv3d, the blocks'
    and head's `modulation` tables) get small random values too: the host leaves them as torch.empty."""
    gen = torch.Generator().manual_seed(seed + 2)
    for module in model.modules():
        if isinstance(module, torch.nn.Conv3d):
            module.weight.data = torch.randn(module.weight.shape, generator=gen) * std
            module.bias.data.zero_()
        modulation = getattr(module, "modulation", None)
        if isinstance(modulation, torch.nn.Parameter):
            modulation.data = torch.randn(modulation.shape, generator=gen) * std


def tiny_wan(kind="wan21", seed=0, **overrides):
    """A ModelPatcher around a tiny Wan video DiT: "wan21" (WAN21_T2V: 16-channel latents, /8; also what a
    Wan 2.2 14B checkpoint loads as) or "wan22" (WAN22_T2V, the 2.2 TI2V 5B shape: 48 channels, /16)."""
    import comfy.supported_models as supported_models

    config_class, channels = KINDS[kind]
    config = dict(WAN_CONFIG, in_dim=channels, out_dim=channels, **overrides)
    patcher = tiny._tiny_dit(getattr(supported_models, config_class), config, seed)
    _init_rest(patcher.model, seed)
    return patcher


def wan_latent(kind, batch, frames=3, height=4, width=6):
    """A zero video latent (B, C, frames, height, width) of the kind's channels."""
    return torch.zeros(batch, KINDS[kind][1], frames, height, width)


def wan_conditioning(rows, seed=1, tokens=8):
    """CONDITIONING for a tiny Wan: one context row per prompt (umT5 has no pooled output)."""
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(rows, tokens, TEXT_DIM, generator=gen), {}]]


def sample(model_patcher, kind, batch, steps=2, cfg=1.0, sampler="euler", seed=0, positive=None, negative=None,
           frames=3, height=4, width=6, latent=None):
    """Sample a tiny Wan of `kind` with random conditioning (or the given one): the denoised clips."""
    import comfy.sample

    latent = wan_latent(kind, batch, frames, height, width) if latent is None else latent
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(seed))
    positive = positive if positive is not None else wan_conditioning(batch, seed=1)
    negative = negative if negative is not None else wan_conditioning(1, seed=2)
    return comfy.sample.sample(model_patcher, noise, steps, cfg, sampler, "normal", positive, negative, latent,
                               disable_pbar=True, seed=seed)


# ---------------------------------------------------------------- text encoder and VAEs

TINY_UMT5 = dict(d_model=TEXT_DIM, d_ff=64, d_kv=16, num_heads=2, num_layers=2, relative_attention_num_buckets=32,
                 vocab_size=128)
_WORDS = ("a the of and in on at with by to house cat bicycle mountain lake lighthouse cliff watercolor painting "
          "minimal flat illustration pastel colours video clip dog river forest city night sky sea boat tree flower "
          "red blue green walking flying running slow camera").split()


@functools.cache
def tiny_spiece_model():
    """A sentencepiece model of about 120 pieces trained here on a few words: umT5's own (256k pieces) comes with
    its checkpoint, not with the host, and the host's umT5 tokenizer takes any such model's bytes."""
    import sentencepiece

    corpus = [" ".join(_WORDS[i:] + _WORDS[:i]) for i in range(len(_WORDS))] * 4
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=model, vocab_size=120,
                                             model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                             character_coverage=1.0, hard_vocab_limit=False, minloglevel=2)
    return model.getvalue()


def tiny_wan_clip(seed=0):
    """A comfy.sd.CLIP with the host's Wan text encoder (umT5, the CLIP type WAN: WanT5Tokenizer, padded to 512
    tokens) at width 32, random weights and a tiny sentencepiece vocabulary."""
    import comfy.sd
    import comfy.text_encoders.wan as wan
    from comfy.supported_models_base import ClipTarget

    with torch.no_grad():  # the host's CLIP constructor writes into a parameter
        clip = comfy.sd.CLIP(target=ClipTarget(wan.WanT5Tokenizer, wan.te()),
                             tokenizer_data={"spiece_model": tiny_spiece_model()},
                             model_options={"umt5xxl_model_config": dict(TINY_UMT5), "dtype": torch.float32})
    tiny.init_weights(clip.cond_stage_model, seed)
    for module in clip.cond_stage_model.modules():  # T5's layer norm keeps an uninitialised scale
        if "LayerNorm" in type(module).__name__ or "RMSNorm" in type(module).__name__:
            for parameter in module.parameters(recurse=False):
                parameter.data.fill_(1.0)
    return clip


def _small_conv3d(model, seed):
    gen = torch.Generator().manual_seed(seed + 1)
    for module in model.modules():
        if isinstance(module, torch.nn.Conv3d):
            module.weight.data = torch.randn(module.weight.shape, generator=gen) * 0.02
            module.bias.data.zero_()


def tiny_wan_vae(kind="wan21", seed=5):
    """A real host Wan VAE, tiny and random: "wan21" the Wan 2.1 VAE (16 channels, pixels 8x and frames 4x
    down-sampled; the one tiny_dit_text builds for Qwen-Image); "wan22" the Wan 2.2 VAE (48 channels, pixels 16x),
    the host's VAE wrapper set up as it sets itself up for that VAE's weights (which would build a 160-wide
    model first) around a tiny comfy.ldm.wan.vae2_2.WanVAE."""
    if kind == "wan21":
        return tiny_dit_text.tiny_dit_vae("qwen_image", seed)
    import comfy.ldm.wan.vae2_2 as vae2_2
    import comfy.model_management
    import comfy.model_patcher

    vae = tiny_dit_text.tiny_dit_vae("qwen_image", seed)  # the wrapper of a Wan VAE; its model is replaced
    vae.upscale_ratio = (lambda a: max(0, a * 4 - 3), 16, 16)
    vae.upscale_index_formula = (4, 16, 16)
    vae.downscale_ratio = (lambda a: max(0, math.floor((a + 3) / 4)), 16, 16)
    vae.downscale_index_formula = (4, 16, 16)
    vae.latent_channels, vae.output_channels, vae.pad_channel_value = 48, 3, None
    model = vae2_2.WanVAE(dim=8, dec_dim=8, z_dim=48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                          temperal_downsample=[False, True, True])
    tiny.init_weights(model, seed)
    _small_conv3d(model, seed)
    vae.first_stage_model = model.eval().to(vae.vae_dtype)
    vae.patcher = comfy.model_patcher.ModelPatcher(model, load_device=vae.device,
                                                   offload_device=comfy.model_management.vae_offload_device())
    return vae
