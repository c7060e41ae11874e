"""The paper's DINO set consistency through the node in the real host, against the metric computed here from its
definition (mean pairwise cosine of DINO CLS embeddings; the paper protocol counts every image of the set, the
reference included; the pack protocol leaves the reference rows out), with a tiny DINO ViT loaded here with
transformers directly."""

import itertools

import numpy as np
import pytest
import torch
from harness import host, inputs, tiny_vision
from style_aligned.nodes.metrics import StyleAlignedDinoSetConsistency

TOL = 1e-5  # on a cosine
EFFECT = 100 * TOL


@pytest.fixture(scope="module")
def dino(tmp_path_factory):
    folder = tiny_vision.save_tiny_dino(tmp_path_factory.mktemp("dino") / "tiny-dino")
    with host.model_folder("dino", folder.parent):
        yield folder


def cls_embeddings(folder, images):
    """DINO CLS tokens (first token of the last hidden state) of IMAGE rows (0..1, rounded to 8-bit pixels),
    preprocessed by the model's PIL image processor (the one the published DINO numbers were measured with)."""
    from PIL import Image
    from transformers import AutoImageProcessor, ViTModel

    model = ViTModel.from_pretrained(folder).eval()
    processor = AutoImageProcessor.from_pretrained(folder, use_fast=False)
    pils = [Image.fromarray((image.numpy() * 255).round().astype(np.uint8)) for image in images]
    with torch.no_grad():
        return model(**processor(images=pils, return_tensors="pt")).last_hidden_state[:, 0].double()


def set_consistency(embeddings):
    pairs = itertools.combinations(range(len(embeddings)), 2)
    return float(np.mean([torch.cosine_similarity(embeddings[i], embeddings[j], dim=0) for i, j in pairs]))


def score(images, protocol, reference_rows=1):
    return host.run_node(StyleAlignedDinoSetConsistency, images=images, protocol=protocol,
                         reference_rows=reference_rows, model="tiny-dino", hub_id="")[0]


def test_the_paper_protocol_scores_the_whole_set_the_pack_protocol_the_targets(dino):
    # a reference unlike its targets (a flat colour among noise images), so counting it or not shows
    reference = torch.full((1, 36, 28, 3), 0.8)
    images = torch.cat([reference, inputs.images(3, seed=6)])
    embeddings = cls_embeddings(dino, images)
    paper, pack = score(images, "paper"), score(images, "pack")
    assert paper == pytest.approx(set_consistency(embeddings), abs=TOL)
    assert pack == pytest.approx(set_consistency(embeddings[1:]), abs=TOL)
    print(f"\nDINO set consistency with and without the reference: {paper:.4f} / {pack:.4f} (tolerance {TOL})")
    assert abs(paper - pack) >= EFFECT
