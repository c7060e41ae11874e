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


def check_reference_for_model(trajectory, model, what="style_reference"):
    """ValueError naming `what` if `trajectory` was inverted with another model family."""
    if not isinstance(trajectory, Trajectory):
        raise ValueError(f"{what}: expected a STYLE_REFERENCE from DDIM Invert Reference or Load Style Reference")
    trajectory.check_model(model_family(model), latent_channels(model), what=what)
