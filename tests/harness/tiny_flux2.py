"""Tiny real host models of the Flux-derived 2026 families (upstream ComfyUI v0.28; Chroma Radiance also on
v0.3.64), built from configs with random weights, and a sampler call on them:

- flux2 / flux2_klein: FLUX.2 dev (guidance embedding) and Klein (none): the host's "flux2" DiT, four rotary
  axes (8 each here, 32 in the real models), theta 2000, patch 1 on 128-channel latents; context 96 wide (the
  host's FLUX.2 text encoders stack three hidden layers: 3 x 32 here).
- chroma_radiance: Chroma Radiance, pixel space (3 channels, 16-pixel patches), a small NeRF head.
- longcat_image: LongCat-Image, the Flux DiT with text positions on the row and column axes.

Their text encoders (`tiny_clip`) are the host's classes with tiny configs and its own tokenizers, widths that
fit these models: FLUX.2 dev's Mistral 3 (31 layers: the host taps layers 10, 20 and 30) and Klein's Qwen3
(28 layers: it taps 9, 18 and 27), 32 wide, stacked to 96; Chroma Radiance's T5 and LongCat-Image's Qwen2.5-VL
text model, 32 wide. Their VAEs (`tiny_vae`): FLUX.2's (a 2 x 2 patchified, batch-normalised 32-channel
AutoencoderKL: 128 channels at /16) a few channels wide, Chroma Radiance's pixel space (the host's, no
weights), LongCat-Image's a 16-channel Flux one.

The host is imported when a model is built (after harness.host.start), never at import."""

import base64
import contextlib
import json
import os
import tempfile

import torch

from . import tiny_dit_text, tiny_models

FLUX2_CONTEXT = 3 * tiny_models.CONTEXT_DIM  # three stacked 32-wide hidden layers of the tiny text encoders
CONTEXT = {"flux2": FLUX2_CONTEXT, "flux2_klein": FLUX2_CONTEXT, "chroma_radiance": tiny_models.CONTEXT_DIM,
           "longcat_image": tiny_models.CONTEXT_DIM}
FLUX2_TEXT = 512  # the host left-pads FLUX.2's text to this many tokens

FLUX2_CONFIG = dict(image_model="flux2", in_channels=128, out_channels=128, vec_in_dim=None,
                    context_in_dim=FLUX2_CONTEXT, hidden_size=64, num_heads=2, mlp_ratio=3.0, depth=2,
                    depth_single_blocks=2, axes_dim=[8, 8, 8, 8], theta=2000, patch_size=1, qkv_bias=False,
                    txt_ids_dims=[3], global_modulation=True, mlp_silu_act=True, ops_bias=False,
                    default_ref_method="index", ref_index_scale=10.0)
CHROMA_RADIANCE_CONFIG = dict(image_model="chroma_radiance", in_channels=3, out_channels=3,
                              context_in_dim=tiny_models.CONTEXT_DIM, hidden_size=64, num_heads=2, mlp_ratio=2.0,
                              depth=1, depth_single_blocks=2, axes_dim=[8, 12, 12], theta=10000, patch_size=16,
                              qkv_bias=True, in_dim=64, out_dim=64, hidden_dim=64, n_layers=1, nerf_hidden_size=16,
                              nerf_mlp_ratio=2, nerf_depth=2, nerf_max_freqs=8, nerf_tile_size=512,
                              nerf_final_head_type="conv", nerf_embedder_dtype=torch.float32)
LONGCAT_CONFIG = dict(image_model="flux", guidance_embed=False, vec_in_dim=None, context_in_dim=tiny_models.CONTEXT_DIM,
                      txt_ids_dims=[1, 2], in_channels=16, out_channels=16, patch_size=2, hidden_size=64, num_heads=2,
                      mlp_ratio=2.0, depth=1, depth_single_blocks=2, axes_dim=[4, 14, 14], theta=10000, qkv_bias=True)


def _filled(patcher, seed):
    """tiny_models' initialisation covers the layers it knows; a parameter the host leaves as torch.empty
    elsewhere (a bare nn.Parameter) gets small random values too, so nothing is garbage."""
    gen = torch.Generator().manual_seed(seed + 2)
    for parameter in patcher.model.parameters():
        if not torch.isfinite(parameter).all() or parameter.abs().amax() > 1e3:
            parameter.data = torch.randn(parameter.shape, generator=gen) * 0.02
    return patcher


def tiny_flux2(seed=0, klein=False):
    """A tiny FLUX.2-shaped DiT: dev (guidance embedding) or Klein (none)."""
    import comfy.supported_models as supported_models

    return _filled(tiny_models._tiny_dit(supported_models.Flux2, dict(FLUX2_CONFIG, guidance_embed=not klein), seed),
                   seed)


def tiny_chroma_radiance(seed=0):
    """A tiny Chroma Radiance (pixel-space Chroma; both hosts: v0.3.64 lacks the newer optional keys)."""
    import comfy.ldm.chroma_radiance.model as chroma_radiance
    import comfy.supported_models as supported_models

    config = tiny_models.with_host_keys(chroma_radiance.ChromaRadianceParams, dict(CHROMA_RADIANCE_CONFIG),
                                        txt_ids_dims=[], vec_in_dim=None, use_x0=False, use_sequential_txt_ids=False)
    return _filled(tiny_models._tiny_dit(supported_models.ChromaRadiance, config, seed), seed)


def tiny_longcat_image(seed=0):
    """A tiny LongCat-Image (the host's Flux DiT, no guidance, text positions on rows and columns)."""
    import comfy.supported_models as supported_models

    return _filled(tiny_models._tiny_dit(supported_models.LongCatImage, dict(LONGCAT_CONFIG), seed), seed)


TINY = {"flux2": tiny_flux2, "flux2_klein": lambda seed=0: tiny_flux2(seed, klein=True),
        "chroma_radiance": tiny_chroma_radiance, "longcat_image": tiny_longcat_image}
LATENT = {"flux2": (128, 1), "flux2_klein": (128, 1), "chroma_radiance": (3, 8), "longcat_image": (16, 1)}


def latent(kind, batch, size=8):
    """A zero latent of the family's shape: `size` cells square, or (rows, columns) of cells (Chroma Radiance:
    8 pixels a cell, so the same `size` makes 16-pixel patches: size 8 is a 64 x 64 image)."""
    channels, pixels = LATENT[kind]
    rows, columns = (size, size) if isinstance(size, int) else size
    return torch.zeros(batch, channels, rows * pixels, columns * pixels)


def conditioning(kind, rows, seed=1, tokens=8, guidance=3.5):
    """CONDITIONING for a tiny model of `kind`: FLUX.2 dev's guidance, Chroma Radiance's pooled_output key
    (None: v0.3.64's Flux base reads the key)."""
    gen = torch.Generator().manual_seed(seed)
    extra = {}
    if kind == "flux2":
        extra["guidance"] = guidance
    if kind == "chroma_radiance":
        extra["pooled_output"] = None
    return [[torch.randn(rows, tokens, CONTEXT[kind], generator=gen), extra]]


def text_tokens(kind, tokens=8):
    """How many text tokens the family's attention sees for `tokens` prompt tokens (FLUX.2 pads to 512)."""
    return max(tokens, FLUX2_TEXT) if kind.startswith("flux2") else tokens


def sample(model_patcher, kind, batch, steps=2, cfg=1.0, sampler="euler", seed=0, positive=None, negative=None,
           size=8):
    """Sample a tiny model of `kind` (a key of TINY) with random conditioning."""
    import comfy.sample

    empty = latent(kind, batch, size)
    noise = torch.randn(empty.shape, generator=torch.Generator().manual_seed(seed))
    positive = positive if positive is not None else conditioning(kind, batch, seed=1)
    negative = negative if negative is not None else conditioning(kind, 1, seed=2)
    return comfy.sample.sample(model_patcher, noise, steps, cfg, sampler, "normal", positive, negative, empty,
                               disable_pbar=True, seed=seed)


# ---------------------------------------------------------------- text encoders and VAEs

TINY_LLM = dict(hidden_size=tiny_models.CONTEXT_DIM, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1)
MISTRAL_LAYERS, QWEN3_LAYERS = 31, 28  # one past the deepest layer the host taps (30; 27)
# Mistral's tekken pre-tokenizer pattern, as its tokenizer files carry it
TEKKEN_PATTERN = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?"
                  r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")
TEKKEN_SPECIAL = {0: "<unk>", 1: "<s>", 2: "</s>", 3: "[INST]", 4: "[/INST]", 11: "<pad>", 17: "[SYSTEM_PROMPT]",
                  18: "[/SYSTEM_PROMPT]"}


def tekken_data():
    """A tekken tokenizer file (what FLUX.2 dev checkpoints carry for the host's Mistral tokenizer): Mistral's 1000
    special tokens (those the host's template uses by name) and one token per byte, no merges."""
    special = [{"rank": r, "token_str": TEKKEN_SPECIAL.get(r, f"<SPECIAL_{r}>"), "is_control": True}
               for r in range(1000)]
    vocab = [{"rank": b, "token_bytes": base64.b64encode(bytes([b])).decode()} for b in range(256)]
    config = {"pattern": TEKKEN_PATTERN, "default_vocab_size": 131072, "default_num_special_tokens": 1000}
    return json.dumps({"config": config, "vocab": vocab, "special_tokens": special}).encode()


def _tekken_from_file(data):
    """The host's load_mistral_tokenizer for transformers 5, whose MistralConverter reads a tekken file by path
    (the host's v0.28 passes the parsed vocabulary, which transformers 4 took)."""
    from transformers.integrations.mistral import MistralConverter

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "tekken.json")
        with open(path, "wb") as file:
            file.write(data)
        return {"tokenizer_object": MistralConverter(vocab_file=path).converted(), "legacy": False}


@contextlib.contextmanager
def _mistral_tokenizer_for_this_transformers():
    """Inside: the host's Mistral tokenizer loads with the installed transformers (see _tekken_from_file)."""
    import inspect

    import comfy.text_encoders.flux as flux

    original = getattr(flux, "load_mistral_tokenizer", None)  # hosts before FLUX.2 have none
    if original is not None:
        from transformers.integrations.mistral import MistralConverter

        if "vocab_file" in inspect.signature(MistralConverter.__init__).parameters:
            flux.load_mistral_tokenizer = _tekken_from_file
    try:
        yield
    finally:
        if original is not None:
            flux.load_mistral_tokenizer = original


def _clip_target(kind):
    """(ClipTarget, model_options, tokenizer_data) of the host's text encoder of `kind`, tiny configs."""
    from comfy.supported_models_base import ClipTarget

    if kind == "flux2":
        import comfy.text_encoders.flux as flux

        return (ClipTarget(flux.Flux2Tokenizer, flux.flux2_te()),
                {"mistral3_24b_model_config": dict(TINY_LLM, num_hidden_layers=MISTRAL_LAYERS)},
                {"tekken_model": tekken_data()})
    if kind == "flux2_klein":
        import comfy.text_encoders.flux as flux

        return (ClipTarget(flux.KleinTokenizer, flux.klein_te()),
                {"qwen3_4b_model_config": dict(TINY_LLM, num_hidden_layers=QWEN3_LAYERS)}, {})
    if kind == "chroma_radiance":
        import comfy.text_encoders.pixart_t5 as pixart_t5

        return (ClipTarget(pixart_t5.PixArtTokenizer, pixart_t5.pixart_te()),
                {"t5xxl_model_config": dict(tiny_dit_text.TINY_T5)}, {})
    if kind == "longcat_image":
        import comfy.text_encoders.longcat_image as longcat_image

        return (ClipTarget(longcat_image.LongCatImageTokenizer, longcat_image.te()),
                {"qwen25_7b_model_config": dict(tiny_dit_text.TINY_QWEN25)}, {})
    raise ValueError(f"no tiny text encoder for {kind!r}: one of {', '.join(TINY)}")


def tiny_clip(kind, seed=0):
    """A comfy.sd.CLIP with the host's text encoder of `kind` (a key of TINY), tiny and random, whose context
    width fits the tiny model of that kind."""
    import comfy.model_management
    import comfy.sd

    target, model_options, tokenizer_data = _clip_target(kind)
    with torch.no_grad(), _mistral_tokenizer_for_this_transformers():  # the constructor writes into a parameter
        clip = comfy.sd.CLIP(target=target, tokenizer_data=tokenizer_data,
                             model_options={**model_options, "dtype": torch.float32})
    model = clip.cond_stage_model
    if kind == "longcat_image":  # Qwen2.5-VL's vision tower has a fixed full size; text prompts never call it
        model.qwen25_7b.transformer.visual = None
        clip.patcher.size = comfy.model_management.module_size(model)
    tiny_models.init_weights(model, seed)
    for module in model.modules():  # RMS norms (T5's layer norm, the LLMs') keep an uninitialised scale
        if "RMSNorm" in type(module).__name__ or "T5LayerNorm" in type(module).__name__:
            for parameter in module.parameters(recurse=False):
                parameter.data.fill_(1.0)
    return clip


def tiny_vae(kind, seed=5):
    """A real host VAE for the latents of `kind` (a key of TINY)."""
    if kind == "longcat_image":
        return tiny_dit_text.tiny_dit_vae("flux", seed)  # FLUX.1's 16-channel VAE at /8
    if kind == "chroma_radiance":
        return tiny_dit_text._quiet_vae(sd={"pixel_space_vae": torch.tensor(1.0)})  # the host's pixel space
    if kind not in TINY:
        raise ValueError(f"no tiny VAE for {kind!r}: one of {', '.join(TINY)}")
    # FLUX.2: a 32-channel AutoencoderKL whose latent is patchified 2 x 2 and batch-normalised (128 at /16)
    ddconfig = {"double_z": True, "z_channels": 32, "resolution": 64, "in_channels": 3, "out_ch": 3, "ch": 32,
                "ch_mult": [1, 1, 1, 1], "num_res_blocks": 1, "attn_resolutions": [], "dropout": 0.0,
                "batch_norm_latent": True}
    vae = tiny_dit_text._quiet_vae(sd={}, config={"params": {"ddconfig": ddconfig, "embed_dim": 32}})
    vae.latent_channels, vae.downscale_ratio, vae.upscale_ratio = 128, 16, 16  # as the host reads a FLUX.2 VAE
    tiny_models.init_weights(vae.first_stage_model, seed)
    return vae


KINDS = tuple(TINY)  # the tiny loaders' kinds (harness.tiny_pack)


def tiny_kit(kind, seed=0):
    """(MODEL, CLIP, VAE) of `kind`, as the tiny loaders hand them out."""
    return TINY[kind](seed), tiny_clip(kind, seed), tiny_vae(kind, seed)
