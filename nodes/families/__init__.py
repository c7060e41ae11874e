"""Model families the patch node supports: the UNets (unet.py, an adapter of their own) and every diffusion
transformer a record in this package describes (one small module each, exporting FAMILY; see family.py),
shared through the generic hooks of dit.py. The method stays in core/."""

import importlib
import pkgutil

from .dit import DitAdapter
from .family import Family
from .unet import NAME as UNET_NAME
from .unet import UNetAdapter, is_unet

_MACHINERY = {"dit", "family", "unet"}
FAMILIES = tuple(
    module.FAMILY for module in (importlib.import_module(f".{info.name}", __name__)
                                 for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
                                 if info.name not in _MACHINERY)
    if isinstance(getattr(module, "FAMILY", None), Family)
)
SUPPORTED = ", ".join([UNET_NAME] + [family.name for family in FAMILIES])
ADAPTERS = (UNetAdapter, DitAdapter)


def family_for(config_class):
    """The DiT family record of a host model config class name, or None."""
    return next((family for family in FAMILIES if config_class in family.config_classes), None)


def adapter_for(model, what="model"):
    """The adapter for the connected model, or a ValueError naming its family and the supported ones."""
    diffusion_model = model.get_model_object("diffusion_model")
    config_class = type(model.model.model_config).__name__
    if is_unet(diffusion_model):
        return UNetAdapter(diffusion_model)
    family = family_for(config_class)
    if family is not None:
        return DitAdapter(family, diffusion_model)
    raise ValueError(f"{what}: {config_class} ({type(diffusion_model).__name__}) is not supported; Style Aligned "
                     f"works with {SUPPORTED} and their fine-tunes")


def remove_patches(patched):
    """Take an earlier Style Aligned patch of any family off a fresh clone; True if there was one."""
    return any([adapter.remove(patched) for adapter in ADAPTERS])
