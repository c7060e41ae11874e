"""What the nodes share about the connected model (its family and latent channels) and the
STYLE_REFERENCE type that carries an inverted reference between them."""

from ..core.reference.trajectory import Trajectory

STYLE_REFERENCE = "STYLE_REFERENCE"


def model_family(model):
    """The host's model config class name (SD15, SDXL, ...): what a trajectory was made for."""
    return type(model.model.model_config).__name__


def frame_axis(model):
    """True for models whose latents carry a frame axis, (B, C, 1, H, W) for an image (Qwen-Image)."""
    return getattr(model.get_model_object("latent_format"), "latent_dimensions", 2) == 3


def latent_channels(model):
    return int(model.get_model_object("latent_format").latent_channels)


def latent_scale(model):
    """Pixels per latent cell of the model's VAE (8 unless its latent format says otherwise; 0.3 hosts do not)."""
    return int(getattr(model.get_model_object("latent_format"), "spacial_downscale_ratio", 8))


def check_reference_for_model(trajectory, model, what="style_reference"):
    """ValueError naming `what` if `trajectory` was inverted with another model family, or does not say which.

    A reference without its family is refused rather than used with a warning: families with the same latent
    channels (SD1.5 and SDXL; Flux and SD3) cannot be told apart by the file's shape, and a wrong one steers
    every target quietly towards noise. No saved file of ours lacks it: DDIM Invert Reference has recorded
    model_family, and Save Style Reference kept it, since the first release that saved references (format
    version 1, unchanged). So only a file edited or made by another tool is refused."""
    if not isinstance(trajectory, Trajectory):
        raise ValueError(f"{what}: expected a STYLE_REFERENCE from DDIM Invert Reference or Load Style Reference")
    if not trajectory.metadata.get("model_family", "").strip():
        raise ValueError(f"{what}: records no model_family (the model it was inverted with), so whether it fits "
                         f"this {model_family(model)} model cannot be checked; references made by DDIM Invert "
                         "Reference always record it, so this one was edited or made elsewhere: invert the reference "
                         "image again with DDIM Invert Reference and this model (and save it with Save Style "
                         "Reference to reuse it)")
    trajectory.check_model(model_family(model), latent_channels(model), what=what)
