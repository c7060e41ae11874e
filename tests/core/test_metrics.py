"""Metric math on embeddings: set consistency, weighted multi-style score, text alignment."""

import math
import sys

import pytest
import torch
from style_aligned.core.evaluation import metrics


def _random(n, d=16, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_identical_embeddings_are_fully_consistent():
    row = _random(1)
    # scaling does not change a cosine
    result = metrics.set_consistency(torch.cat([row, 2 * row, 0.5 * row]))
    assert result.score == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(result.per_image, torch.ones(3), atol=1e-6)


def test_orthogonal_embeddings_score_zero():
    eye = torch.eye(4)
    assert metrics.set_consistency(eye).score == pytest.approx(0.0, abs=1e-7)
    assert metrics.weighted_style_score(eye[:2], eye[2:]).score == pytest.approx(0.0, abs=1e-7)
    assert metrics.text_alignment(eye[:2], eye[2:]).score == pytest.approx(0.0, abs=1e-7)


def test_set_consistency_is_mean_of_upper_triangle():
    x = _random(5)
    unit = x / x.norm(dim=1, keepdim=True)
    sim = unit @ unit.T
    expected = sum(float(sim[i, j]) for i in range(5) for j in range(i + 1, 5)) / 10
    assert metrics.set_consistency(x).score == pytest.approx(expected, abs=1e-6)


def test_scores_are_permutation_invariant():
    images, refs = _random(6, seed=1), _random(3, seed=2)
    perm_images, perm_refs = torch.randperm(6), torch.tensor([2, 0, 1])
    weights = torch.tensor([0.5, 0.3, 0.2])
    assert metrics.set_consistency(images[perm_images]).score == pytest.approx(
        metrics.set_consistency(images).score, abs=1e-6)
    base = metrics.weighted_style_score(images, refs, weights).score
    # permuting the references together with their weights changes nothing
    assert metrics.weighted_style_score(images[perm_images], refs[perm_refs], weights[perm_refs]).score == (
        pytest.approx(base, abs=1e-6))


def test_weights_are_renormalised():
    images, refs = _random(4, seed=3), _random(2, seed=4)
    a = metrics.weighted_style_score(images, refs, [2.0, 1.0])
    b = metrics.weighted_style_score(images, refs, [2 / 3, 1 / 3])
    assert a.score == pytest.approx(b.score, abs=1e-6)
    assert torch.allclose(a.weights, torch.tensor([2 / 3, 1 / 3]))
    assert torch.allclose(metrics.weighted_style_score(images, refs).weights, torch.tensor([0.5, 0.5]))


def test_two_references_match_the_published_formula():
    images, refs = _random(5, seed=5), _random(2, seed=6)
    w1, w2 = 0.7, 0.3

    def mean_cos(r):
        return sum(float(torch.nn.functional.cosine_similarity(g, r, dim=0)) for g in images) / len(images)

    published = w1 * mean_cos(refs[0]) + w2 * mean_cos(refs[1])
    result = metrics.weighted_style_score(images, refs, [w1, w2])
    assert result.score == pytest.approx(published, abs=1e-6)
    assert result.per_reference[0] == pytest.approx(mean_cos(refs[0]), abs=1e-6)
    assert result.per_image.shape == (5,)
    assert result.per_image.mean() == pytest.approx(published, abs=1e-6)


def test_single_reference_is_mean_cosine():
    images, ref = _random(3, seed=7), _random(1, seed=8)
    expected = float(torch.nn.functional.cosine_similarity(images, ref).mean())
    assert metrics.weighted_style_score(images, ref).score == pytest.approx(expected, abs=1e-6)


def test_text_alignment_pairs_each_image_with_its_own_prompt():
    images = torch.eye(3)
    prompts = torch.eye(3)
    assert metrics.text_alignment(images, prompts).score == pytest.approx(1.0)
    assert metrics.text_alignment(images, prompts[[1, 2, 0]]).score == pytest.approx(0.0)
    # one prompt row serves every image
    one = metrics.text_alignment(images, prompts[:1])
    assert torch.allclose(one.per_image, torch.tensor([1.0, 0.0, 0.0]))


@pytest.mark.parametrize("weights, message", [
    ([0.5, 0.3, 0.2], "3 weight.*for 2 reference"),
    ([1.0], "1 weight.*for 2 reference"),
    ([math.nan, 1.0], "NaN or infinite"),
    ([math.inf, 1.0], "NaN or infinite"),
    ([-1.0, 2.0], "negative"),
    ([0.0, 0.0], ".*sum to zero"),
])
def test_bad_weights_name_the_input(weights, message):
    with pytest.raises(ValueError, match=f"weights: {message}"):
        metrics.weighted_style_score(_random(3), _random(2, seed=1), weights)


def test_bad_batches_name_the_input():
    with pytest.raises(ValueError, match="images: the batch is empty"):
        metrics.set_consistency(torch.zeros(0, 8))
    with pytest.raises(ValueError, match="images: .*two are needed; got 1"):
        metrics.set_consistency(_random(1))
    with pytest.raises(ValueError, match="references: the batch is empty"):
        metrics.weighted_style_score(_random(2), torch.zeros(0, 16))
    with pytest.raises(ValueError, match="prompts: 2 prompts for 3 images"):
        metrics.text_alignment(_random(3), _random(2))
    with pytest.raises(ValueError, match="references: embedding width"):
        metrics.weighted_style_score(_random(2), _random(2, d=8))


def test_score_chart_is_an_image_and_leaves_pyplot_alone():
    import matplotlib
    from style_aligned.core.evaluation import charts

    backend = matplotlib.get_backend()
    few = charts.score_bar_chart([0.5, 0.9, -0.1], title="t")
    many = charts.score_bar_chart(torch.linspace(0, 1, 40))
    assert few.shape == (1, 300, 500, 3) and few.dtype == torch.float32
    assert 0.0 <= float(few.min()) and float(few.max()) <= 1.0
    assert many.shape[2] > few.shape[2]  # long batches get a wider chart
    # the bars are drawn in their colour (#4c72b0)
    bar = torch.tensor([0x4C, 0x72, 0xB0]) / 255.0
    assert ((few[0] - bar).abs().max(dim=-1).values < 0.02).float().mean() > 0.05
    assert matplotlib.get_backend() == backend
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or not pyplot.get_fignums()  # no figure left in pyplot's registry


def test_identical_rows_score_at_most_one_despite_rounding():
    """Normalised float64 rows whose cosines round to 1.0000000000000002 (seed 15): every score
    is a cosine and stays within [-1, 1]."""
    row = torch.randn(1, 16, generator=torch.Generator().manual_seed(15), dtype=torch.float64)
    same = row.repeat(3, 1)
    assert metrics.set_consistency(same).score <= 1.0
    assert metrics.weighted_style_score(same, row).score <= 1.0
    assert metrics.text_alignment(same, row).score <= 1.0
    assert float(metrics.set_consistency(same).pairwise.max()) <= 1.0
