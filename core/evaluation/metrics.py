"""Metric math on embeddings: set consistency, weighted multi-style score, text alignment.

Pure torch. Embeddings are `(N, D)` rows (DINO CLS tokens, CLIP image or text features); every
score is a cosine similarity, so rows are L2-normalised here and the caller need not do it.
Argument names match the node inputs ("images", "references", "weights", "prompts") so that an
error raised here already names the input the user has to change.
"""

from dataclasses import dataclass

import torch

from ..common.images import check_batch
from ..common.tensors import unit
from ..common.weights import normalise_weights


@dataclass
class SetConsistency:
    score: float  # mean pairwise cosine over distinct pairs
    per_image: torch.Tensor  # (N,) mean cosine of each image to the others
    pairwise: torch.Tensor  # (N, N) cosine matrix


@dataclass
class WeightedStyleScore:
    score: float  # sum_k w_k * mean_g cos(g, r_k)
    per_image: torch.Tensor  # (G,) sum_k w_k * cos(g, r_k)
    per_reference: torch.Tensor  # (K,) mean_g cos(g, r_k), unweighted
    weights: torch.Tensor  # (K,) renormalised weights actually used
    cosines: torch.Tensor  # (G, K)


@dataclass
class TextAlignment:
    score: float  # mean over images of cos(image_i, prompt_i)
    per_image: torch.Tensor  # (N,)


def _rows(embeddings, name):
    """(N, D) float tensor; a single vector counts as one row."""
    x = torch.as_tensor(embeddings).detach().to(device="cpu", dtype=torch.float64)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if x.dim() != 2:
        raise ValueError(f"{name}: expected embeddings of shape (N, D), got {tuple(x.shape)}")
    check_batch(x.shape[0], name)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: embeddings contain NaN or infinity; check the images and the model")
    return x


def _cosines(a, b):
    """(N, M) cosines of the rows of a and b; rounding can put identical rows a hair above 1."""
    return (unit(a) @ unit(b).T).clamp(-1.0, 1.0)


def set_consistency(images) -> SetConsistency:
    """Mean pairwise cosine over the upper triangle (the paper's set consistency)."""
    x = _rows(images, "images")
    n = x.shape[0]
    check_batch(n, "images", minimum=2)
    sim = _cosines(x, x)
    upper = torch.triu_indices(n, n, offset=1)
    score = sim[upper[0], upper[1]].mean()
    off_diagonal = ~torch.eye(n, dtype=torch.bool)
    per_image = (sim * off_diagonal).sum(dim=1) / (n - 1)
    return SetConsistency(float(score), per_image.float(), sim.float())


def weighted_style_score(images, references, weights=None) -> WeightedStyleScore:
    """Weighted multi-style score `sum_k w_k * mean_g cos(g, r_k)` for K references.

    Z-SAMB publishes it for exactly two references with w1 + w2 = 1; this takes any K and
    renormalises the weights, so '2, 1' means the same as '0.667, 0.333'.
    """
    g = _rows(images, "images")
    r = _rows(references, "references")
    if g.shape[1] != r.shape[1]:
        raise ValueError(f"references: embedding width {r.shape[1]} differs from the images' {g.shape[1]}; "
                         "embed both with the same model")
    w = normalise_weights(weights, r.shape[0])
    cos = _cosines(g, r)  # (G, K)
    per_image = cos @ w
    return WeightedStyleScore(float(per_image.mean()), per_image.float(), cos.mean(dim=0).float(), w.float(),
                              cos.float())


def text_alignment(images, prompts) -> TextAlignment:
    """Cosine between each image embedding and the embedding of its own prompt.

    One prompt row is used for every image; otherwise the counts must match.
    """
    x = unit(_rows(images, "images"))
    t = unit(_rows(prompts, "prompts"))
    if t.shape[0] == 1:
        t = t.expand_as(x)
    if t.shape[0] != x.shape[0]:
        raise ValueError(f"prompts: {t.shape[0]} prompts for {x.shape[0]} images; give one prompt per image "
                         "(one per line) or a single prompt for all")
    if t.shape[1] != x.shape[1]:
        raise ValueError(f"prompts: text embedding width {t.shape[1]} differs from the image width {x.shape[1]}; "
                         "use one CLIP model for both")
    per_image = (x * t).sum(dim=-1).clamp(-1.0, 1.0)
    return TextAlignment(float(per_image.mean()), per_image.float())
