"""Small tensor helpers the content and evaluation models share."""

import torch


def unit(x):
    """Rows scaled to length 1; eps keeps an all-zero row at 0 instead of NaN."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def features(output):
    """get_*_features returns a tensor in transformers 4.x, an output object in later versions."""
    if isinstance(output, torch.Tensor):
        return output
    for attr in ("image_embeds", "audio_embeds", "text_embeds", "pooler_output"):
        value = getattr(output, attr, None)
        if value is not None:
            return value
    raise RuntimeError(f"unexpected feature output {type(output).__name__} from the model")


def device_of(model):
    return next(model.parameters()).device


def dtype_of(model):
    return next(model.parameters()).dtype


def in_chunks(items, size, run, progress=None):
    """[run(chunk) for each chunk of `size` items], without autograd; progress(done, total) per chunk."""
    if size < 1:
        raise ValueError(f"batch_size: must be at least 1, got {size}")
    results = []
    with torch.inference_mode():
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            results.append(run(chunk))
            if progress is not None:
                progress(start + len(chunk), len(items))
    return results
