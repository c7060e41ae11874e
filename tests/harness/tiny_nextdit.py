"""Tiny real host models of the DiT families that offer no block replace (v0.28 host only; none of them exists in
v0.3.64): Z-Image (NextDiT), Krea 2 and Boogu, built from configs with random weights, their conditioning and
latents, and a sampler call on them.

- z_image: dim 256 (the least the host's Z-Image modulation allows), 4 query and 2 key/value heads (the host
  repeats k/v by hand), 2 layers, one caption and one image refiner, axes (16, 24, 24), theta 256; captions and
  images padded to 32 tokens with learned pad tokens; caption width 32.
- krea2: 128 wide, 2 heads, 1 key/value head (expanded by hand), 2 blocks; the text comes as a 12-layer tap
  (12 x 16 = 192 columns, as the host's Krea 2 encoder flattens it), fused by two attention stages across the 12
  layers and two over the text; axes (16, 24, 24), theta 1000; one-frame latents (B, 16, 1, H, W).
- boogu: 128 wide, 4 query and 2 key/value heads (the host's kernels get enable_gqa), one double-stream layer
  (joint attention, then image-only), 2 single-stream layers, one refiner each; axes (8, 12, 12); instruction
  width 32. The host needs `num_tokens`, made from a one-row attention mask (see `conditioning`).

The default latent is 6 x 8 (3 x 4 = 12 image tokens, Krea 2's tap length: its cross-layer text attention has the
image's length and must still run plainly). The host is imported when a model is built, never at import."""

import torch

from . import tiny_models

KINDS = ("z_image", "krea2", "boogu")
FEATURES = {"z_image": "Z-Image", "krea2": "Krea 2", "boogu": "Boogu"}  # harness.host FEATURES keys
TEXT_LAYERS = 12  # Krea 2's tap
TEXT_WIDTH = {"z_image": 32, "krea2": TEXT_LAYERS * 16, "boogu": 32}
SIZE = (6, 8)  # latent height, width

CONFIGS = {
    "z_image": dict(image_model="lumina2", patch_size=2, in_channels=16, dim=256, n_heads=4, n_kv_heads=2,
                    n_layers=2, n_refiner_layers=1, cap_feat_dim=TEXT_WIDTH["z_image"], qk_norm=True,
                    axes_dims=[16, 24, 24], axes_lens=[1536, 512, 512], rope_theta=256.0,
                    ffn_dim_multiplier=8.0 / 3.0, z_image_modulation=True, time_scale=1000.0, pad_tokens_multiple=32),
    "krea2": dict(image_model="krea2", features=128, heads=2, kvheads=1, layers=2, patch=2, channels=16, tdim=32,
                  txtdim=TEXT_WIDTH["krea2"] // TEXT_LAYERS, txtlayers=TEXT_LAYERS, txtheads=2, txtkvheads=2,
                  multiplier=4, theta=1000.0),
    "boogu": dict(image_model="boogu", patch_size=2, in_channels=16, hidden_size=128, num_attention_heads=4,
                  num_kv_heads=2, num_layers=2, num_double_stream_layers=1, num_refiner_layers=1, multiple_of=32,
                  axes_dim_rope=(8, 12, 12), axes_lens=(2048, 1664, 1664), instruction_feat_dim=TEXT_WIDTH["boogu"],
                  timestep_scale=1000.0),
}
CONFIG_CLASSES = {"z_image": "ZImage", "krea2": "Krea2", "boogu": "Boogu"}
_COVERED = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Conv1d, torch.nn.Embedding, torch.nn.GroupNorm,
            torch.nn.LayerNorm)


def _loose_parameters(model, seed, std=tiny_models.DIT_STD):
    """The parameters the host keeps outside linear and norm layers (pad tokens, modulation tables, reference
    index embeddings) are torch.empty: small random values. Krea 2's own RMS norm holds a scale around 0 (its
    weight is 1 + scale), which tiny_models set to 1: back to 0."""
    gen = torch.Generator().manual_seed(seed + 2)
    for module in model.modules():
        if type(module).__name__ == "RMSNorm" and hasattr(module, "scale"):
            module.scale.data.zero_()
        elif not isinstance(module, _COVERED) and "RMSNorm" not in type(module).__name__:
            for parameter in module.parameters(recurse=False):
                parameter.data = torch.randn(parameter.shape, generator=gen) * std


def tiny(kind, seed=0):
    """A ModelPatcher around a tiny model of `kind` (z_image, krea2, boogu)."""
    import comfy.supported_models as supported_models

    if kind not in CONFIGS:
        raise ValueError(f"no tiny model {kind!r}: one of {', '.join(KINDS)}")
    patcher = tiny_models._tiny_dit(getattr(supported_models, CONFIG_CLASSES[kind]), dict(CONFIGS[kind]), seed)
    _loose_parameters(patcher.model, seed)
    return patcher


def latent(kind, batch, size=SIZE):
    """A zero latent: (B, 16, H, W), Krea 2's with its frame axis."""
    height, width = (size, size) if isinstance(size, int) else size
    return torch.zeros(batch, 16, 1, height, width) if kind == "krea2" else torch.zeros(batch, 16, height, width)


def conditioning(kind, rows, seed=1, tokens=8):
    """CONDITIONING with `rows` prompt rows. Boogu's carries a one-row all-ones attention mask, as the host's
    encoder returns for one prompt: the host makes `num_tokens` from it, summed over the whole mask (a mask with a
    row per prompt would count every row's tokens)."""
    gen = torch.Generator().manual_seed(seed)
    extra = {"attention_mask": torch.ones(1, tokens, dtype=torch.long)} if kind == "boogu" else {}
    return [[torch.randn(rows, tokens, TEXT_WIDTH[kind], generator=gen), extra]]


def sample(model_patcher, kind, batch, steps=2, cfg=1.0, sampler="euler", seed=0, positive=None, negative=None,
           size=SIZE, scheduler="simple"):
    """Sample a tiny model of `kind` with random conditioning (one prompt row per latent row). The "simple"
    schedule, as the host's workflows for these models (2 "normal" steps end at the smallest sigma, where these
    random models barely attend)."""
    import comfy.sample

    empty = latent(kind, batch, size)
    noise = torch.randn(empty.shape, generator=torch.Generator().manual_seed(seed))
    positive = positive if positive is not None else conditioning(kind, batch, seed=1)
    negative = negative if negative is not None else conditioning(kind, 1, seed=2)
    return comfy.sample.sample(model_patcher, noise, steps, cfg, sampler, scheduler, positive, negative, empty,
                               disable_pbar=True, seed=seed)


# ---------------------------------------------------------------- text encoders and VAEs

# the host's Qwen3 text models, as small as their configs allow (head_dim stays the host's 128): Z-Image taps the
# next-to-last layer of Qwen3-4B, Krea 2 layers 2, 5, ..., 35 of Qwen3-VL-4B (so 36 layers), Boogu the last
# (normed) layer of Qwen3-VL-8B; their widths are the tiny models' text widths
TEXT_MODELS = {
    "z_image": ("qwen3_4b", dict(hidden_size=TEXT_WIDTH["z_image"], num_hidden_layers=3)),
    "krea2": ("qwen3vl_4b", dict(hidden_size=TEXT_WIDTH["krea2"] // TEXT_LAYERS, num_hidden_layers=36)),
    "boogu": ("qwen3vl_8b", dict(hidden_size=TEXT_WIDTH["boogu"], num_hidden_layers=2)),
}
_TEXT_COMMON = dict(intermediate_size=32, num_attention_heads=2, num_key_value_heads=1)


def _text_target(kind):
    from comfy.supported_models_base import ClipTarget

    if kind == "z_image":
        import comfy.text_encoders.z_image as module

        return ClipTarget(module.ZImageTokenizer, module.te())
    if kind == "krea2":
        import comfy.text_encoders.krea2 as module

        return ClipTarget(module.Krea2Tokenizer, module.te())
    import comfy.text_encoders.boogu as module

    return ClipTarget(module.BooguTokenizer, module.te())


def tiny_clip(kind, seed=0):
    """A comfy.sd.CLIP with the host's text encoder of `kind` (its tokenizer, chat template and layer tap), tiny
    and random, whose context fits `tiny(kind)`. The Qwen3-VL encoders' vision tower has a fixed full size in the
    host; it is left out while they are built (text prompts never call it)."""
    import unittest.mock

    import comfy.sd
    import comfy.text_encoders.qwen3vl as qwen3vl

    if kind not in TEXT_MODELS:
        raise ValueError(f"no tiny text encoder for {kind!r}: one of {', '.join(KINDS)}")
    name, config = TEXT_MODELS[kind]
    options = {f"{name}_model_config": {**_TEXT_COMMON, **config}, "dtype": torch.float32}
    with torch.no_grad(), unittest.mock.patch.object(qwen3vl, "Qwen3VLVisionModel", lambda *args, **kwargs: None):
        clip = comfy.sd.CLIP(target=_text_target(kind), model_options=options)
    tiny_models.init_weights(clip.cond_stage_model, seed)
    for module in clip.cond_stage_model.modules():  # RMS norms keep an uninitialised scale
        if "RMSNorm" in type(module).__name__:
            for parameter in module.parameters(recurse=False):
                parameter.data.fill_(1.0)
    return clip


def tiny_vae(kind, seed=5):
    """A real host VAE for the family's latents: Z-Image's and Boogu's are Flux's (16 channels, 8x), Krea 2's
    Wan 2.1's (one-frame 5-D latents), as tiny_dit_text builds them."""
    from . import tiny_dit_text

    return tiny_dit_text.tiny_dit_vae("qwen_image" if kind == "krea2" else "flux", seed)
