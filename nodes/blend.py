"""MultiRefBlend: Z-SAMB blending of several reference latents into one, before inversion.

Host glue only; the math lives in core/reference/blend.py.
"""

from ..core.common.weights import parse_weights
from ..core.reference.blend import blend_linear, blend_slerp, stack_references

METHODS = {"SLERP": blend_slerp, "Linear": blend_linear}
MAX_INPUTS = 4


class MultiRefBlend:
    DESCRIPTION = (
        "Blends several reference images (VAE-encoded latents) into one latent, the Z-SAMB way; invert the "
        "result with DDIM Invert Reference to use it as a single style reference. Linear: the weighted sum; "
        "SLERP: a spherical blend."
    )
    DETAILS = (  # on the help page
        "SLERP interpolates on the sphere with one angle over each whole latent and is independent of the "
        "input order; Linear is the weighted sum. References are the rows of latent_1, then of latent_2, and "
        "so on."
    )
    CATEGORY = "style_aligned/blend"
    FUNCTION = "blend"
    RETURN_TYPES = ("LATENT",)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = ("One blended reference latent (batch of 1).",)

    @classmethod
    def INPUT_TYPES(cls):
        optional = {
            f"latent_{i}": ("LATENT", {"tooltip": f"Reference latent {i} (optional; all references must have the "
                                                  "same size)."})
            for i in range(2, MAX_INPUTS + 1)
        }
        return {
            "required": {
                "method": (list(METHODS), {"default": "SLERP", "tooltip": "SLERP: weighted spherical "
                           "interpolation (keeps the latents' character). Linear: weighted sum."}),
                "latent_1": ("LATENT", {"tooltip": "Reference latent 1 from VAE Encode. A batch of several "
                                                   "images counts as several references."}),
                "weights": ("STRING", {"default": "", "tooltip": "One weight per reference, comma separated, e.g. "
                                       "'0.6, 0.4'. Rescaled to sum to 1; must not be negative. Empty = equal "
                                       "weights."}),
                "keep_norm": ("BOOLEAN", {"default": True, "tooltip": "Rescale the blend to the weighted mean norm "
                              "of the references. A plain linear 50/50 blend of unrelated images has about 0.71x "
                              "their norm, which looks washed out."}),
            },
            "optional": optional,
        }

    def blend(self, method, latent_1, weights, keep_norm, **more):
        if method not in METHODS:
            raise ValueError(f"method: {method!r} is not one of {list(METHODS)}")
        inputs = [("latent_1", latent_1)] + [(f"latent_{i}", more[f"latent_{i}"])
                                              for i in range(2, MAX_INPUTS + 1) if more.get(f"latent_{i}") is not None]
        names = [name for name, _ in inputs]
        samples = [latent["samples"] for _, latent in inputs]
        frames = all(s.ndim == 5 and s.shape[2] == 1 for s in samples)  # one-frame latents (Qwen-Image's VAE)
        references = stack_references([s[:, :, 0] if frames else s for s in samples], names=names)
        values = parse_weights(weights)  # None = equal weights
        blended = METHODS[method](references, values, keep_norm=keep_norm)
        return ({"samples": blended.unsqueeze(2) if frames else blended},)


NODE_CLASS_MAPPINGS = {"MultiRefBlend": MultiRefBlend}
NODE_DISPLAY_NAME_MAPPINGS = {"MultiRefBlend": "Multi-Reference Blend (Z-SAMB)"}
