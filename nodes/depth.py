"""Depth map for ControlNet with transformers DPT, so the StyleAligned ControlNet workflow needs no other pack."""

from ..core.common.images import check_batch
from ..core.content import depth
from .pretrained import HelperModelNode, chosen, model_inputs
from .ui import progress_bar


class StyleAlignedDepthMap(HelperModelNode):
    DESCRIPTION = ("Estimates a depth map for each image with DPT (MiDaS); near is white, as depth "
                   "ControlNets expect. Output has the size of the input.")
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("depth",)
    OUTPUT_TOOLTIPS = ("Depth maps (B, H, W, 3) in 0..1, scaled per image.",)
    FUNCTION = "estimate"
    CATEGORY = "style_aligned/depth"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "images": ("IMAGE", {"tooltip": "Images to estimate depth for; any size, alpha is ignored."}),
            **model_inputs("dpt", [depth.DPT_DEFAULT, "Intel/dpt-large"]),
        }}

    def estimate(self, images, model, hub_id):
        check_batch(len(images), "images")  # before a model load or download
        bundle = self.helper_model("dpt", chosen(model, hub_id), depth.load_dpt)
        return (depth.depth_maps(bundle, images, progress=progress_bar(len(images))),)


NODE_CLASS_MAPPINGS = {"StyleAlignedDepthMap": StyleAlignedDepthMap}
NODE_DISPLAY_NAME_MAPPINGS = {"StyleAlignedDepthMap": "Style Aligned Depth Map (DPT)"}
