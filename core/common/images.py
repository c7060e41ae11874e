"""IMAGE batches as the helper models take them: a check that names the input, and RGB PIL images."""

import numpy as np
import torch


def check_batch(count, name, minimum=1):
    """Raise a message naming the input when a batch holds fewer than `minimum` images.

    Nodes call it before loading a model, so a wrong batch fails at once.
    """
    if count == 0:
        least = "one image" if minimum == 1 else "two images"
        raise ValueError(f"{name}: the batch is empty; connect at least {least}")
    if count < minimum:
        raise ValueError(f"{name}: this score compares images with each other, so two are needed; "
                         f"got {count}. Connect a batch of at least two images")


def to_pil_images(images, name="images"):
    """RGB PIL images from an IMAGE tensor (B,H,W,C) / (H,W,C) in 0..1, a PIL image, or a list of either.

    A fourth (alpha) channel is dropped and one channel is repeated, as the encoders expect RGB.
    """
    from PIL import Image

    if isinstance(images, Image.Image):
        return [images if images.mode == "RGB" else images.convert("RGB")]
    if isinstance(images, torch.Tensor):
        batch = images.unsqueeze(0) if images.dim() == 3 else images
        if batch.dim() != 4:
            raise ValueError(f"{name}: expected an IMAGE batch (B, H, W, C), got shape {tuple(images.shape)}")
        return [_tensor_to_pil(img, name) for img in batch]
    result = []
    for item in images:
        result.extend(to_pil_images(item, name))
    return result


def _tensor_to_pil(image, name):
    from PIL import Image

    channels = image.shape[-1]
    if channels not in (1, 3, 4):
        raise ValueError(f"{name}: images need 1, 3 or 4 channels (last axis), got {channels}")
    rgb = image[..., :3] if channels >= 3 else image.expand(*image.shape[:-1], 3)
    array = (rgb.detach().float().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(array, "RGB")
