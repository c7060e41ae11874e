"""Tiny real models for the host tests, built from configs (no weights can be downloaded)."""

import comfy.model_patcher
import comfy.sample
import comfy.supported_models as supported_models
import torch

CPU = torch.device("cpu")
CONTEXT_DIM = 32
POOLED_DIM = 1280


def init_weights(module, seed=0):
    """The host's layers skip initialisation; give them small random weights."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Conv1d, torch.nn.Embedding)):
            m.weight.data = torch.randn(m.weight.shape, generator=gen) * 0.02
            if getattr(m, "bias", None) is not None:
                m.bias.data.zero_()
        elif isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm)):
            if m.weight is not None:
                m.weight.data.fill_(1.0)
                m.bias.data.zero_()


def unet_config(kind):
    config = dict(
        model_channels=32, channel_mult=[1, 2], num_res_blocks=[1, 1], transformer_depth=[1, 1],
        transformer_depth_output=[1, 1, 1, 1], transformer_depth_middle=1, context_dim=CONTEXT_DIM,
        in_channels=4, out_channels=4, num_head_channels=-1, num_heads=2, use_spatial_transformer=True,
        legacy=False, image_size=None, use_temporal_attention=False, use_temporal_resblock=False,
        use_linear_in_transformer=kind == "sdxl", adm_in_channels=None,
    )
    if kind == "sdxl":
        config.update(adm_in_channels=2816, num_classes="sequential")
    return config


def tiny_model(kind="sd15", seed=0):
    """A ModelPatcher around a tiny SD1.5- or SDXL-shaped UNet with random weights."""
    if kind == "sdxl":
        family = supported_models.SDXL(unet_config(kind))
        family.unet_config["num_head_channels"] = 16  # SDXL's 64-wide heads do not fit 32 channels
    else:
        family = supported_models.SD15(unet_config(kind))
    model = family.get_model({})
    init_weights(model, seed)
    model.eval()
    return comfy.model_patcher.ModelPatcher(model, CPU, CPU)


def conditioning(kind, rows, seed=1, tokens=77):
    """CONDITIONING with `rows` prompt rows (one per latent row when rows == batch)."""
    gen = torch.Generator().manual_seed(seed)
    extra = {}
    if kind == "sdxl":
        extra["pooled_output"] = torch.randn(rows, POOLED_DIM, generator=gen)
    return [[torch.randn(rows, tokens, CONTEXT_DIM, generator=gen), extra]]


def force_split(model_patcher):
    """Make the host run cond and uncond in separate calls (as when memory is short)."""
    model_patcher.model.memory_required = lambda *args, **kwargs: 1e30


def sample(model_patcher, kind, batch, steps=3, cfg=5.0, sampler="euler", seed=0, positive=None,
           negative=None, size=8):
    latent = torch.zeros(batch, 4, size, size)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(seed))
    positive = positive if positive is not None else conditioning(kind, batch, seed=1)
    negative = negative if negative is not None else conditioning(kind, 1, seed=2)
    return comfy.sample.sample(model_patcher, noise, steps, cfg, sampler, "normal", positive, negative, latent,
                               disable_pbar=True, seed=seed)


class CallRecorder:
    """A model wrapper that records every UNet call (input, sigma, cond_or_uncond, output)."""

    def __init__(self):
        self.calls = []

    def __call__(self, apply_model, args):
        out = apply_model(args["input"], args["timestep"], **args["c"])
        self.calls.append({"input": args["input"].clone(), "timestep": args["timestep"].clone(),
                           "cond_or_uncond": list(args["cond_or_uncond"]), "output": out.clone()})
        return out
