"""Zero-shot music genre and mood with CLAP (transformers ClapModel) over editable label lists.

Each list (genres, moods) is scored on its own and softmaxed over its own labels, so the
scores of a list are a distribution over exactly the labels the user typed.
"""

import torch

from ..common.pretrained import load_model_and_processor
from ..common.tensors import device_of, features, unit
from . import audio as audio_ops

CLAP_DEFAULT = "laion/clap-htsat-unfused"
DEFAULT_GENRES = ("classical", "jazz", "rock", "pop", "electronic", "hip hop", "ambient", "folk", "metal",
                  "blues", "reggae", "country", "orchestral soundtrack", "lo-fi")
DEFAULT_MOODS = ("calm", "happy", "sad", "energetic", "dark", "romantic", "dreamy", "epic", "melancholic",
                 "playful", "tense")
TEXT_TEMPLATE = "This is {} music."


def load_clap(source):
    """(model, processor) from a local folder or hub id (no remote code)."""
    return load_model_and_processor(source, "music genre/mood", "ClapModel", "ClapProcessor")


def parse_labels(text, name: str) -> list[str]:
    """Labels from a comma- or newline-separated string (duplicates dropped, order kept)."""
    items = text if isinstance(text, (list, tuple)) else str(text or "").replace("\n", ",").split(",")
    labels = list(dict.fromkeys(" ".join(str(s).split()) for s in items if str(s).strip()))
    if not labels:
        raise ValueError(f"{name}: the label list is empty; type labels separated by commas")
    return labels


def audio_embedding(bundle, clip: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Unit CLAP embedding of one mono clip at any rate (resampled to the extractor's rate)."""
    model, processor = bundle
    extractor = processor.feature_extractor
    clip = audio_ops.resample(clip.float(), sample_rate, extractor.sampling_rate)
    inputs = extractor([clip.cpu().numpy()], sampling_rate=extractor.sampling_rate, return_tensors="pt")
    device = device_of(model)
    inputs = {k: v.to(device) for k, v in inputs.items()}
    return unit(features(model.get_audio_features(**inputs)))[0]


def text_embeddings(bundle, labels: list[str]) -> torch.Tensor:
    model, processor = bundle
    prompts = [TEXT_TEMPLATE.format(label) for label in labels]
    inputs = processor.tokenizer(prompts, padding=True, return_tensors="pt")
    device = device_of(model)
    inputs = {k: v.to(device) for k, v in inputs.items()}
    return unit(features(model.get_text_features(**inputs)))


def classify(bundle, clip: torch.Tensor, sample_rate: int, label_sets: dict) -> dict:
    """{set name: [(label, probability), ...] sorted high to low} for one mono clip.

    Probabilities are softmax(logit_scale * cosine) over each set's labels, as CLAP's own
    `logits_per_audio`.
    """
    model, _ = bundle
    with torch.inference_mode():
        embedding = audio_embedding(bundle, clip, sample_rate)
        scale = model.logit_scale_a.exp()
        result = {}
        for name, labels in label_sets.items():
            probs = (scale * text_embeddings(bundle, labels) @ embedding).softmax(-1).float().cpu()
            order = probs.argsort(descending=True).tolist()
            result[name] = [(labels[i], float(probs[i])) for i in order]
    return result


def phrase(scores: dict) -> str:
    """'calm jazz music' from the top mood and genre."""
    mood = scores.get("moods", [("", 0)])[0][0]
    genre = scores.get("genres", [("", 0)])[0][0]
    words = " ".join(w for w in (mood, genre) if w)
    return f"{words} music" if words else ""


def score_lines(scores: dict, top_k: int) -> str:
    lines = []
    for name, ranked in scores.items():
        shown = ", ".join(f"{label} {p:.2f}" for label, p in ranked[:max(1, top_k)])
        lines.append(f"{name}: {shown}")
    return "\n".join(lines)
