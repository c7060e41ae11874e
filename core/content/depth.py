"""Monocular depth with transformers DPT (default Intel/dpt-hybrid-midas) as an IMAGE for ControlNet.

MiDaS/DPT predict relative inverse depth (near = large); each map is scaled to 0..1 per image
so near is white, the convention of the depth ControlNets.
"""

import torch

from ..common.images import check_batch, to_pil_images
from ..common.pretrained import load_model_and_processor
from ..common.tensors import device_of, in_chunks

DPT_DEFAULT = "Intel/dpt-hybrid-midas"


def load_dpt(source):
    """(model, image processor) from a local folder or hub id (no remote code)."""
    return load_model_and_processor(source, "depth maps", "DPTForDepthEstimation", "DPTImageProcessor")


def _normalise(depth: torch.Tensor) -> torch.Tensor:
    low, high = depth.min(), depth.max()
    if float(high - low) < 1e-8:  # flat prediction: a uniform mid-grey, not NaN
        return torch.full_like(depth, 0.5)
    return (depth - low) / (high - low)


def depth_maps(bundle, images: torch.Tensor, progress=None) -> torch.Tensor:
    """(B, H, W, 3) float depth maps in 0..1 at the size of the input images."""
    model, processor = bundle
    pils = to_pil_images(images, name="images")
    check_batch(len(pils), "images")
    device = device_of(model)

    def estimate(chunk):  # one image a chunk: each keeps its own size
        pil = chunk[0]
        pixels = processor(images=[pil], return_tensors="pt")["pixel_values"].to(device)
        depth = model(pixel_values=pixels).predicted_depth  # (1, h, w)
        depth = torch.nn.functional.interpolate(depth[:, None].float(), size=(pil.height, pil.width),
                                                mode="bicubic", align_corners=False)[0, 0]
        return _normalise(depth).clamp(0, 1).cpu()

    maps = in_chunks(pils, 1, estimate, progress)
    return torch.stack(maps)[..., None].expand(-1, -1, -1, 3).contiguous()
