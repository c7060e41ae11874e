"""Metrics in the graph: weighted multi-style DINO score, DINO set consistency, CLIP text alignment.

Each node returns the score, a readable report (also shown on the node) and a small bar chart as
an IMAGE. The math lives in `core.evaluation.metrics`, the encoders in `core.evaluation.embeddings`;
models are found by `nodes.pretrained` under the kinds "dino" and "clip" and kept by each node.
"""

from comfy_api.latest import io

from ..core.common.images import check_batch
from ..core.common.validation import require_finite
from ..core.common.weights import normalise_weights, parse_weights
from ..core.evaluation import charts, embeddings
from ..core.evaluation.protocols import PROTOCOLS, protocol, scored_rows
from .pretrained import chosen, helper_model, model_inputs
from .ui import ADVANCED, outputs, progress_bar, shown

CATEGORY = "style_aligned/metrics"
DINO_CHOICES = [embeddings.DINO_DEFAULT]
PROTOCOL_MODEL = "(the protocol's)"
CLIP_CHOICES = [PROTOCOL_MODEL, embeddings.CLIP_DEFAULT, "openai/clip-vit-base-patch16", "openai/clip-vit-base-patch32"]
# style_mode values of saved workflows from before the protocols, and the protocol whose text rule they meant
LEGACY_STYLE_MODES = {"strip from prompt (paper)": "pack", "include in prompt": "paper"}


def _protocol_input(what):
    return io.Combo.Input("protocol", options=list(PROTOCOLS), default="paper", tooltip=what + " " + " ".join(
        f"{p.name}: {p.description}." for p in PROTOCOLS.values()))


def _batch_size_input():
    return io.Int.Input("batch_size", default=embeddings.DEFAULT_BATCH_SIZE, min=1, max=256,
                        tooltip="Images encoded per forward pass. Lower it if memory runs out; the scores do not "
                                "depend on it.", **ADVANCED)


def _score_schema(node_id, display_name, description, inputs, tooltips):
    """What every metric node shares: a score, a report (also shown on the node) and a chart."""
    return io.Schema(node_id=node_id, display_name=display_name, category=CATEGORY, description=description,
                     inputs=inputs, outputs=outputs(*zip((io.Float, io.String, io.Image), ("score", "report", "chart"),
                                                         tooltips, strict=True)))


def _numbers(values):
    return ", ".join(f"{i + 1}: {float(v):.4f}" for i, v in enumerate(values))


def _check_images(images, name, minimum=1):
    check_batch(int(images.shape[0]), name, minimum)
    require_finite(images, name)  # NaN images would score a perfect 1.0


def protocol_named(name):
    """The metric protocol of a node's `protocol` input (a saved workflow's old style_mode value included)."""
    return protocol(LEGACY_STYLE_MODES.get(name, name))


class StyleAlignedWeightedDinoScore(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return _score_schema(
            "WeightedDinoScore", "Style Aligned Weighted DINO Score",
            "Weighted multi-style DINO score (Z-SAMB) for K reference images: sum_k w_k * mean over generated "
            "images of cos(DINO(g), DINO(r_k)), with DINO ViT-B/8 CLS embeddings. Higher = the images are closer in "
            "style to the weighted references. Weights are renormalised to sum 1.",
            [
                io.Image.Input("images", tooltip="Generated images to score. Leave out a reference row (e.g. with "
                               "ImageFromBatch): a reference scores 1.0 against itself."),
                io.Image.Input("references", tooltip="The K style reference images, as one batch (Batch Images to "
                               "combine several); one weight per image."),
                io.String.Input("weights", default="", tooltip="One weight per reference, comma separated, e.g. "
                                "'0.7, 0.3'. Renormalised to sum 1. Empty = equal weights."),
                *model_inputs("dino", DINO_CHOICES),
                _batch_size_input(),
            ],
            ("The weighted score (cosine, -1..1; higher is closer).",
             "Weights used, the mean similarity to each reference and each image's weighted score.",
             "Bar chart of each image's weighted score with the mean."))

    @classmethod
    def execute(cls, images, references, weights, model, hub_id, batch_size):
        _check_images(images, "images")
        _check_images(references, "references")
        count = int(references.shape[0])
        weight_values = normalise_weights(parse_weights(weights), count)  # fail before loading
        n = int(images.shape[0])
        dino = helper_model("dino", chosen(model, hub_id), embeddings.load_dino)
        result = embeddings.weighted_dino_score(dino, images, references, weight_values, batch_size,
                                                progress_bar(n + count))
        lines = [
            f"Weighted DINO style score: {result.score:.4f} ({n} images, {count} references)",
            "weights: " + ", ".join(f"{float(w):.3f}" for w in result.weights),
            "mean cosine to each reference: " + _numbers(result.per_reference),
            "weighted score per image: " + _numbers(result.per_image),
        ]
        chart = charts.score_bar_chart(result.per_image, title="Weighted DINO style score per image",
                                       mean=result.score)
        return shown((result.score, "\n".join(lines), chart), lines)


class StyleAlignedDinoSetConsistency(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return _score_schema(
            "DinoSetConsistency", "Style Aligned DINO Set Consistency",
            "Style consistency of a generated set (StyleAligned paper): the mean cosine similarity of DINO ViT-B/8 "
            "CLS embeddings over all pairs of images. Needs at least two images.",
            [
                io.Image.Input("images", tooltip="The generated set (at least two images), reference rows first as "
                               "the sampler made it."),
                _protocol_input("Which images count."),
                io.Int.Input("reference_rows", default=1, min=0, max=64,
                             tooltip="How many of the first images are references (1, or K with K inverted "
                                     "references). The pack protocol leaves them out; the paper protocol counts "
                                     "them."),
                *model_inputs("dino", DINO_CHOICES),
                _batch_size_input(),
            ],
            ("Mean pairwise cosine (-1..1; higher = more consistent set).",
             "The score and each image's mean similarity to the others.",
             "Bar chart of each image's mean similarity to the others with the set mean."))

    @classmethod
    def execute(cls, images, protocol, reference_rows, model, hub_id, batch_size):
        _check_images(images, "images", minimum=2)
        used = protocol_named(protocol)
        rows = scored_rows(int(images.shape[0]), reference_rows, used)
        images = images[rows[0]:]
        _check_images(images, "images once the reference rows are left out", minimum=2)
        n = int(images.shape[0])
        dino = helper_model("dino", chosen(model, hub_id), embeddings.load_dino)
        result = embeddings.dino_set_consistency(dino, images, batch_size, progress_bar(n))
        lines = [f"DINO set consistency: {result.score:.4f} ({n} images, {n * (n - 1) // 2} pairs)",
                 f"protocol: {used.name} ({used.description})",
                 "mean cosine to the others per image: " + _numbers(result.per_image)]
        chart = charts.score_bar_chart(result.per_image, title="DINO similarity to the rest of the set",
                                       mean=result.score)
        return shown((result.score, "\n".join(lines), chart), lines)


class StyleAlignedClipTextAlignment(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return _score_schema(
            "ClipTextAlignment", "Style Aligned CLIP Text Alignment",
            "Text alignment (StyleAligned paper): CLIP cosine between each image and its own prompt. As in the "
            "paper the style text is removed from the prompt by default, so the score measures whether the object "
            "is there, not the style.",
            [
                io.Image.Input("images", tooltip="Generated images, in the order of the prompts."),
                io.String.Input("prompts", default="", multiline=True,
                                tooltip="One prompt per line, one line per image in batch order, or a single line "
                                        "used for every image."),
                io.String.Input("style", default="", tooltip="The style description shared by the prompts (e.g. "
                                "'in watercolor style'). Removed from each prompt or added to it, as chosen below. "
                                "Empty = prompts as written."),
                _protocol_input("What each image is compared with, and by which CLIP (with model = "
                                f"{PROTOCOL_MODEL}). Saved workflows' older style_mode values still load."),
                *model_inputs("clip", CLIP_CHOICES),
                _batch_size_input(),
            ],
            ("Mean image-prompt cosine (CLIP; real models give about 0.2-0.35 for matching pairs).",
             "The prompt each image was compared with and its score.",
             "Bar chart of each image's alignment with the mean."))

    @classmethod
    def validate_inputs(cls, protocol):
        """Takes over the host's list check for `protocol`, so saved workflows' style_mode values still load."""
        try:
            protocol_named(protocol)
        except ValueError as error:
            return str(error)
        return True

    @classmethod
    def execute(cls, images, prompts, style, protocol, model, hub_id, batch_size):
        _check_images(images, "images")
        n = int(images.shape[0])
        used = protocol_named(protocol)
        include = used.style_in_text
        embeddings.split_prompts(prompts, n, style, include)  # fail before loading
        name = used.clip_model if model == PROTOCOL_MODEL and not (hub_id or "").strip() else chosen(model, hub_id)
        clip = helper_model("clip", name, embeddings.load_clip)
        result, texts = embeddings.clip_text_alignment(clip, images, prompts, style, include, batch_size,
                                                       progress_bar(2 * n))
        lines = [f"CLIP text alignment: {result.score:.4f} ({n} images)",
                 f"protocol: {used.name} ({'the object prompt with the style' if include else 'the object prompt'}"
                 f", {name})"]
        lines += [f"{i + 1}: {float(s):.4f}  '{t}'" for i, (s, t) in enumerate(zip(result.per_image, texts,
                                                                                     strict=True))]
        chart = charts.score_bar_chart(result.per_image, title="CLIP image-prompt alignment", mean=result.score)
        return shown((result.score, "\n".join(lines), chart), lines)


NODES = [StyleAlignedWeightedDinoScore, StyleAlignedDinoSetConsistency, StyleAlignedClipTextAlignment]

# the ids before the design card's names: registered by nodes/__init__.py as deprecated aliases, so
# saved workflows still load
DEPRECATED_IDS = {
    "StyleAlignedWeightedDinoScore": "WeightedDinoScore",
    "StyleAlignedDinoSetConsistency": "DinoSetConsistency",
    "StyleAlignedClipTextAlignment": "ClipTextAlignment",
}
# Inputs a node gained after its old id was retired. Saved workflows store widget values by position, and every
# workflow saved with this old id has its widgets without them (model, hub_id, batch_size), so the old id keeps
# that layout and runs the node with these values: the node then scored every image, the paper protocol.
DEPRECATED_FIXED = {"StyleAlignedDinoSetConsistency": {"protocol": "paper", "reference_rows": 0}}
