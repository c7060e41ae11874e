"""MultiRefBlend: Z-SAMB blending of several reference latents into one, before inversion, or (Keep apart)
the references side by side as K rows for weighted multi-reference attention.

Host glue only; the math lives in core/reference/blend.py.
"""

from comfy_api.latest import io

from ..core.common.weights import parse_weights
from ..core.reference.blend import blend_linear, blend_slerp, stack_references
from .ui import ADVANCED, outputs

METHODS = {"SLERP": blend_slerp, "Linear": blend_linear}
# No blend: the references stay K rows of one batch, the stock "Batch Latents" (LatentBatch) for this use. That
# node is deprecated on ComfyUI v0.28 and its replacement (BatchLatentsNode) is missing on older hosts.
KEEP_APART = "Keep apart (K references)"
MAX_INPUTS = 4


class MultiRefBlend(io.ComfyNode):
    DETAILS = (  # on the help page
        "SLERP interpolates on the sphere with one angle over each whole latent and is independent of the "
        "input order; Linear is the weighted sum. References are the rows of latent_1, then of latent_2, and "
        "so on. Keep apart (K references) blends nothing: the output holds the K references as K rows, in that "
        "order, for weighted multi-reference attention. Invert it with DDIM Invert Reference (K reference rows) "
        "and set the weights on Style Aligned Patch Model's reference_weights, where each target attends to all "
        "K references. This node's weights must then be empty (a value there is refused, so a weight is never "
        "silently ignored) and keep_norm does nothing. It does what the stock Batch Latents node did for this "
        "use, which newer ComfyUI deprecates, but refuses references of different sizes instead of resizing them."
    )

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="MultiRefBlend",
            display_name="Multi-Reference Blend (Z-SAMB)",
            category="style_aligned/blend",
            description=(
                "Blends several reference images (VAE-encoded latents) into one latent, the Z-SAMB way; invert the "
                "result with DDIM Invert Reference to use it as a single style reference. Linear: the weighted "
                "sum; SLERP: a spherical blend. Keep apart: no blend, K references for multi-reference attention."
            ),
            inputs=[
                io.Combo.Input("method", options=[*METHODS, KEEP_APART], default="SLERP",
                               tooltip="SLERP: weighted spherical interpolation (keeps the latents' character). "
                                       "Linear: weighted sum. Keep apart (K references): no blend; the references "
                                       "as K rows for weighted multi-reference attention (invert them together; "
                                       "the weights go on the patch's reference_weights)."),
                io.Latent.Input("latent_1", tooltip="Reference latent 1 from VAE Encode. A batch of several images "
                                "counts as several references."),
                io.String.Input("weights", default="", tooltip="One weight per reference, comma separated, e.g. "
                                "'0.6, 0.4'. Rescaled to sum to 1; must not be negative. Empty = equal weights. "
                                "Keep apart: leave empty (set the patch's reference_weights)."),
                io.Boolean.Input("keep_norm", default=True, tooltip="Rescale the blend to the weighted mean norm of "
                                 "the references. A plain linear 50/50 blend of unrelated images has about 0.71x "
                                 "their norm, which looks washed out. No effect with Keep apart.", **ADVANCED),
                *[io.Latent.Input(f"latent_{i}", optional=True, tooltip=f"Reference latent {i} (optional; all "
                                  "references must have the same size).") for i in range(2, MAX_INPUTS + 1)],
            ],
            outputs=outputs((io.Latent, "latent", "One blended reference latent (batch of 1); with Keep apart, "
                             "the K references as K rows.")),
        )

    @classmethod
    def execute(cls, method, latent_1, weights, keep_norm, **more):
        if method not in METHODS and method != KEEP_APART:
            raise ValueError(f"method: {method!r} is not one of {[*METHODS, KEEP_APART]}")
        if method == KEEP_APART and str(weights or "").strip():
            raise ValueError(f"weights: {weights!r} is set, but {KEEP_APART} blends nothing, so it has no weights; "
                             "leave weights empty and give one weight per reference in Style Aligned Patch Model's "
                             "reference_weights (e.g. '0.7, 0.3'), where each target attends to all K references")
        inputs = [("latent_1", latent_1)] + [(f"latent_{i}", more[f"latent_{i}"])
                                              for i in range(2, MAX_INPUTS + 1) if more.get(f"latent_{i}") is not None]
        names = [name for name, _ in inputs]
        samples = [latent["samples"] for _, latent in inputs]
        frames = all(s.ndim == 5 and s.shape[2] == 1 for s in samples)  # one-frame latents (Qwen-Image's VAE)
        references = stack_references([s[:, :, 0] if frames else s for s in samples], names=names)
        if method == KEEP_APART:  # K rows, in input order: DDIM Invert Reference inverts them as K references
            return io.NodeOutput({"samples": references.unsqueeze(2) if frames else references})
        values = parse_weights(weights)  # None = equal weights
        blended = METHODS[method](references, values, keep_norm=keep_norm)
        return io.NodeOutput({"samples": blended.unsqueeze(2) if frames else blended})


NODES = [MultiRefBlend]
