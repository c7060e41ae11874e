"""Depth map for ControlNet with transformers DPT, so the StyleAligned ControlNet workflow needs no other pack."""

from comfy_api.latest import io

from ..core.common.images import check_batch
from ..core.content import depth
from .pretrained import chosen, helper_model, model_inputs
from .ui import outputs, progress_bar


class StyleAlignedDepthMap(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StyleAlignedDepthMap",
            display_name="Style Aligned Depth Map (DPT)",
            category="style_aligned/depth",
            description=("Estimates a depth map for each image with DPT (MiDaS); near is white, as depth "
                         "ControlNets expect. Output has the size of the input."),
            inputs=[
                io.Image.Input("images", tooltip="Images to estimate depth for; any size, alpha is ignored."),
                *model_inputs("dpt", [depth.DPT_DEFAULT, "Intel/dpt-large"]),
            ],
            outputs=outputs((io.Image, "depth", "Depth maps (B, H, W, 3) in 0..1, scaled per image.")),
        )

    @classmethod
    def execute(cls, images, model, hub_id):
        check_batch(len(images), "images")  # before a model load or download
        bundle = helper_model("dpt", chosen(model, hub_id), depth.load_dpt)
        return io.NodeOutput(depth.depth_maps(bundle, images, progress=progress_bar(len(images))))


NODES = [StyleAlignedDepthMap]
