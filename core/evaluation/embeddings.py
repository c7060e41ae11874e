"""Image and text embeddings for the metrics: DINO ViT-B/8 CLS tokens and CLIP features.

Pure: takes already-loaded transformers models and processors (or loads them from a plain
folder / hub id with `load_dino` / `load_clip`); no host import. transformers and PIL are
imported lazily so the pack loads without them.

Script use (the evaluation runner); images are an IMAGE tensor, PIL images or a list of either:

    dino = load_dino("facebook/dino-vitb8")            # or a local folder; load once, reuse
    dino_set_consistency(dino, images).score
    weighted_dino_score(dino, images, references, "0.7, 0.3").score
    result, prompts = clip_text_alignment(load_clip(CLIP_DEFAULT), images, ["a cat", "a dog"], style="...")

A name or path instead of a loaded bundle is loaded on each call (search_dirs: folders to look in).
"""

import inspect
import re

import torch

from ..common.images import check_batch, to_pil_images
from ..common.pretrained import load_model_and_processor, load_pretrained
from ..common.tensors import device_of, dtype_of, features, in_chunks
from ..common.weights import normalise_weights, parse_weights
from . import metrics

DINO_DEFAULT = "facebook/dino-vitb8"
CLIP_DEFAULT = "openai/clip-vit-large-patch14"
DEFAULT_BATCH_SIZE = 8


def load_dino(source):
    """(model, image_processor) for a DINO ViT from a local folder or hub id.

    AutoModel rather than ViTModel so DINOv2 folders load as well; both put the CLS token first.
    The slow (PIL) processor is the preprocessing the published DINO numbers were measured with.
    """
    model, processor = load_model_and_processor(source, "the DINO metrics", "AutoModel", "AutoImageProcessor",
                                                 use_fast=False)
    if "input_ids" in inspect.signature(model.forward).parameters:  # a text or text+image model (CLIP, BLIP)
        raise ValueError(f"model '{source}' is a {type(model).__name__}, not an image-only ViT; choose a DINO "
                         f"model such as {DINO_DEFAULT}")
    return model, processor


def load_clip(source):
    """(model, processor) for a CLIP-like model (get_image_features / get_text_features)."""
    model, processor = load_model_and_processor(source, "the CLIP metric", "AutoModel", "AutoProcessor")
    if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
        raise ValueError(f"model '{source}' is a {type(model).__name__}, not a CLIP-like model with image "
                         f"and text features; choose a CLIP model such as {CLIP_DEFAULT}")
    return model, processor


def _pixels(processor, pils, model):
    # each image is resized by the model's own processor, so mixed sizes end up alike
    pixels = processor(images=pils, return_tensors="pt")["pixel_values"]
    return pixels.to(device=device_of(model), dtype=dtype_of(model))


def _batched(items, batch_size, encode, progress):
    """Encode `items` in chunks of `batch_size`: one float32 CPU tensor."""
    return torch.cat(in_chunks(items, batch_size, lambda chunk: encode(chunk).float().cpu(), progress))


def _pil_batch(images, name, minimum=1):
    """RGB PIL images, failing with a message naming the input when there are fewer than `minimum`."""
    pils = to_pil_images(images, name)
    check_batch(len(pils), name, minimum)
    return pils


def dino_embeddings(bundle, images, batch_size=DEFAULT_BATCH_SIZE, progress=None, name="images"):
    """(N, D) DINO CLS tokens (first token of last_hidden_state) for `images`."""
    model, processor = bundle
    pils = _pil_batch(images, name)

    def encode(chunk):
        return model(pixel_values=_pixels(processor, chunk, model)).last_hidden_state[:, 0]

    return _batched(pils, batch_size, encode, progress)


def clip_image_embeddings(bundle, images, batch_size=DEFAULT_BATCH_SIZE, progress=None, name="images"):
    """(N, D) CLIP image features (projected, not normalised)."""
    model, processor = bundle
    pils = _pil_batch(images, name)

    def encode(chunk):
        return features(model.get_image_features(pixel_values=_pixels(processor, chunk, model)))

    return _batched(pils, batch_size, encode, progress)


def clip_text_embeddings(bundle, texts, batch_size=DEFAULT_BATCH_SIZE, progress=None, name="prompts"):
    """(N, D) CLIP text features; long prompts are truncated to the model's context (77 tokens)."""
    model, processor = bundle
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError(f"{name}: no prompt given; write one prompt per line")
    tokenizer = getattr(processor, "tokenizer", processor)
    limit = getattr(model.config, "text_config", model.config).max_position_embeddings

    def encode(chunk):
        # fixed-length padding: CLIP pools the first end token behind a causal mask, so padding does
        # not change it, and SigLIP-style models were trained on max-length padding
        tokens = tokenizer(chunk, padding="max_length", truncation=True, max_length=limit, return_tensors="pt")
        tokens = {k: v.to(device_of(model)) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        return features(model.get_text_features(**tokens))

    return _batched(texts, batch_size, encode, progress)


def _tidy(text):
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r"([,.;:])(?:\s*[,.;:])+", r"\1", text)  # separators left doubled by a removal
    return text.strip(" ,.;:-")


def alignment_prompt(prompt, style="", include_style=False):
    """The text CLIP alignment compares an image with.

    The paper scores the object prompt without the style description, so by default the style
    text is removed from the prompt (case-insensitive); with include_style it is kept, and
    appended when the prompt does not contain it.
    """
    prompt, style = prompt.strip(), (style or "").strip()
    if not style:
        return _tidy(prompt)
    present = re.search(re.escape(style), prompt, flags=re.IGNORECASE)
    if include_style:
        return _tidy(prompt if present else f"{prompt}, {style}")
    return _tidy(re.sub(re.escape(style), " ", prompt, flags=re.IGNORECASE))


def split_prompts(text, count, style="", include_style=False, name="prompts"):
    """One alignment prompt per image from text with one prompt per line (or a single line for all)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{name}: no prompt given; write one prompt per line, or a single line for all images")
    if len(lines) == 1:
        lines = lines * count
    if len(lines) != count:
        raise ValueError(f"{name}: {len(lines)} prompt lines for {count} images; write one line per image, "
                         "or a single line for all")
    prompts = [alignment_prompt(line, style, include_style) for line in lines]
    for number, (line, prompt) in enumerate(zip(lines, prompts, strict=True), start=1):
        if not prompt:
            raise ValueError(f"{name}: line {number} ('{line}') is empty once the style text is removed; "
                             "write the object in the prompt or include the style")
    return prompts


# Scores from images in one call: what the nodes and the evaluation runner use. `dino` / `clip`
# is a loaded (model, processor) bundle, or a local folder / hub id loaded here (pass
# search_dirs to look for folder names, e.g. the host's models/dino).

def bundle_for(model, load_fn, kind, search_dirs=()):
    """A (model, processor) bundle, loading it when `model` is a name or path."""
    if isinstance(model, (tuple, list)):
        return model
    return load_pretrained(load_fn, str(model), list(search_dirs), kind)


def _phases(progress, counts):
    """One progress(done, total) over several encodings: a callback per encoding, offset by the ones before."""
    if progress is None:
        return [None] * len(counts)
    total, offsets = sum(counts), [sum(counts[:i]) for i in range(len(counts))]
    return [lambda done, _count, offset=offset: progress(offset + done, total) for offset in offsets]


def weighted_dino_score(dino, images, references, weights=None, batch_size=DEFAULT_BATCH_SIZE, progress=None,
                        search_dirs=()):
    """Weighted multi-style DINO score of `images` against K `references` (weights: list, '0.7, 0.3' or None)."""
    images, references = _pil_batch(images, "images"), _pil_batch(references, "references")
    if isinstance(weights, str):
        weights = parse_weights(weights)
    weights = normalise_weights(weights, len(references))  # fail before loading a model
    bundle = bundle_for(dino, load_dino, "dino", search_dirs)
    first, second = _phases(progress, [len(images), len(references)])
    generated = dino_embeddings(bundle, images, batch_size, first, "images")
    refs = dino_embeddings(bundle, references, batch_size, second, "references")
    return metrics.weighted_style_score(generated, refs, weights)


def dino_set_consistency(dino, images, batch_size=DEFAULT_BATCH_SIZE, progress=None, search_dirs=()):
    """Mean pairwise cosine of the DINO embeddings of `images` (at least two)."""
    images = _pil_batch(images, "images", minimum=2)
    bundle = bundle_for(dino, load_dino, "dino", search_dirs)
    return metrics.set_consistency(dino_embeddings(bundle, images, batch_size, progress, "images"))


def clip_text_alignment(clip, images, prompts, style="", include_style=False, batch_size=DEFAULT_BATCH_SIZE,
                        progress=None, search_dirs=()):
    """CLIP cosine of each image with its own prompt; returns (TextAlignment, the prompts compared).

    `prompts`: a list (one per image, or one for all) or text with one prompt per line. The style
    text is removed from each prompt unless include_style (see `alignment_prompt`).
    """
    images = _pil_batch(images, "images")
    text = prompts if isinstance(prompts, str) else "\n".join(prompts)
    texts = split_prompts(text, len(images), style, include_style)
    bundle = bundle_for(clip, load_clip, "clip", search_dirs)
    first, second = _phases(progress, [len(images), len(texts)])
    image_emb = clip_image_embeddings(bundle, images, batch_size, first, "images")
    text_emb = clip_text_embeddings(bundle, texts, batch_size, second, "prompts")
    return metrics.text_alignment(image_emb, text_emb), texts
