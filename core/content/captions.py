"""Image captions with BLIP (transformers BlipForConditionalGeneration), one per image.

Pure: loads from a plain folder or hub id; transformers is imported lazily.
"""


from ..common.images import check_batch, to_pil_images
from ..common.pretrained import load_model_and_processor
from ..common.tensors import device_of, in_chunks

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
    device = device_of(model)

    def caption(chunk):
        inputs = processor(images=chunk, text=[prefix] * len(chunk) if prefix else None, return_tensors="pt")
        out = model.generate(**{k: v.to(device) for k, v in inputs.items()}, max_new_tokens=max_new_tokens)
        return [" ".join(t.split()) for t in processor.batch_decode(out, skip_special_tokens=True)]

    return [text for chunk in in_chunks(pils, max(1, batch_size), caption, progress) for text in chunk]
