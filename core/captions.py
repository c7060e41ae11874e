"""Image captions with BLIP (transformers BlipForConditionalGeneration), one per image.

Pure: loads from a plain folder or hub id; transformers is imported lazily.
"""

import torch

from .embeddings import to_pil_images
from .metrics import check_batch
from .pretrained import load_model_and_processor

BLIP_DEFAULT = "Salesforce/blip-image-captioning-base"


def load_blip(source):
    """(model, processor) from a local folder or hub id (no remote code)."""
    return load_model_and_processor(source, "image captions", "BlipForConditionalGeneration", "BlipProcessor")


def caption_images(bundle, images, prefix: str = "", max_new_tokens: int = 30, batch_size: int = 8,
                   progress=None) -> list[str]:
    """One caption per image of an IMAGE batch (any size; alpha dropped).

    With `prefix` (for example "a painting of"), BLIP continues that text (conditional
    captioning) and the caption starts with it.
    """
    model, processor = bundle
    pils = to_pil_images(images, name="images")
    check_batch(len(pils), "images")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    prefix = " ".join((prefix or "").split())
    step = max(1, batch_size)
    device = next(model.parameters()).device
    captions = []
    with torch.inference_mode():
        for start in range(0, len(pils), step):
            chunk = pils[start:start + step]
            inputs = processor(images=chunk, text=[prefix] * len(chunk) if prefix else None, return_tensors="pt")
            inputs = {k: v.to(device) for k, v in inputs.items()}
            out = model.generate(**inputs, max_new_tokens=max_new_tokens)
            captions.extend(" ".join(t.split()) for t in processor.batch_decode(out, skip_special_tokens=True))
            if progress is not None:
                progress(start + len(chunk), len(pils))
    return captions
