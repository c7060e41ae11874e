"""Model families the patch node supports, each a small adapter: its attention layers and presets, and
how sharing hooks in (UNet: unet.py; Flux, SD3, Qwen-Image: dit.py). The method stays in core/."""

from .dit import FAMILIES, DitAdapter, family_for
from .unet import NAME as UNET_NAME
from .unet import UNetAdapter, is_unet

SUPPORTED = ", ".join([UNET_NAME] + [family.name for family in FAMILIES])
ADAPTERS = (UNetAdapter, DitAdapter)


def adapter_for(model, what="model"):
    """The adapter for the connected model, or a ValueError naming its family and the supported ones."""
    diffusion_model = model.get_model_object("diffusion_model")
    config_class = type(model.model.model_config).__name__
    if is_unet(diffusion_model):
        return UNetAdapter(diffusion_model)
    family = family_for(config_class, diffusion_model)
    if family is not None:
        return DitAdapter(family, diffusion_model)
    raise ValueError(f"{what}: {config_class} ({type(diffusion_model).__name__}) is not supported; Style Aligned "
                     f"works with {SUPPORTED} and their fine-tunes")


def remove_patches(patched):
    """Take an earlier Style Aligned patch of any family off a fresh clone; True if there was one."""
    return any([adapter.remove(patched) for adapter in ADAPTERS])
