"""DINO and CLIP embeddings with tiny real transformers models saved to and loaded from a folder."""

from pathlib import Path

import pytest
import torch
from harness import inputs, tiny_vision
from PIL import Image
from style_aligned.core.common import images as images_module
from style_aligned.core.common.pretrained import load_pretrained
from style_aligned.core.evaluation import embeddings, metrics


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("vision_models")
    tiny_vision.save_tiny_dino(root / "tiny-dino")
    tiny_vision.save_tiny_clip(root / "tiny-clip")
    return root


@pytest.fixture(scope="module")
def dino(model_dir):
    # the real loading path: a folder name found in a search dir, loaded with from_pretrained
    return load_pretrained(embeddings.load_dino, "tiny-dino", [str(model_dir)], "dino")


@pytest.fixture(scope="module")
def clip(model_dir):
    return load_pretrained(embeddings.load_clip, "tiny-clip", [str(model_dir)], "clip")


def test_dino_embeddings_are_cls_tokens(dino):
    model, processor = dino
    images = inputs.images(3, h=40, w=48)
    emb = embeddings.dino_embeddings(dino, images)
    assert emb.shape == (3, model.config.hidden_size)
    assert emb.dtype == torch.float32
    pixels = processor(images=images_module.to_pil_images(images), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        expected = model(pixel_values=pixels).last_hidden_state[:, 0]
    assert torch.allclose(emb, expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["dino", "clip"])
def test_result_is_independent_of_batch_split(kind, dino, clip):
    encode = {"dino": lambda imgs, bs: embeddings.dino_embeddings(dino, imgs, batch_size=bs),
              "clip": lambda imgs, bs: embeddings.clip_image_embeddings(clip, imgs, batch_size=bs)}[kind]
    images = inputs.images(5, seed=1, h=40, w=48)
    one_by_one, all_at_once, uneven = encode(images, 1), encode(images, 5), encode(images, 2)
    assert torch.allclose(one_by_one, all_at_once, atol=1e-5)
    assert torch.allclose(uneven, all_at_once, atol=1e-5)


def test_progress_reports_every_chunk(dino):
    seen = []
    embeddings.dino_embeddings(dino, inputs.images(5, h=40, w=48), batch_size=2,
                              progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_mixed_sizes_and_channels_are_handled_by_the_processor(dino, clip):
    gen = torch.Generator().manual_seed(2)
    pils = [Image.fromarray((torch.rand(h, w, 3, generator=gen) * 255).byte().numpy())
            for h, w in [(20, 60), (64, 64), (33, 17)]]
    mixed = embeddings.dino_embeddings(dino, pils, batch_size=3)
    alone = torch.cat([embeddings.dino_embeddings(dino, [p]) for p in pils])
    assert mixed.shape == (3, 32)
    assert torch.allclose(mixed, alone, atol=1e-5)
    assert embeddings.clip_image_embeddings(clip, pils).shape == (3, 24)
    # RGBA and grey IMAGE tensors become RGB; alpha does not change the embedding
    rgb = inputs.images(2, seed=3, h=40, w=48)
    rgba = torch.cat([rgb, torch.rand(2, 40, 48, 1)], dim=-1)
    assert torch.allclose(embeddings.dino_embeddings(dino, rgba), embeddings.dino_embeddings(dino, rgb))
    assert embeddings.dino_embeddings(dino, rgb[..., :1]).shape == (2, 32)


def test_clip_text_embeddings_batching_and_alignment(clip):
    prompts = ["a cat", "a dog, watercolor", "a cat on a mat"]
    split = embeddings.clip_text_embeddings(clip, prompts, batch_size=1)
    whole = embeddings.clip_text_embeddings(clip, prompts, batch_size=3)
    assert split.shape == (3, 24)
    assert torch.allclose(split, whole, atol=1e-5)
    assert not torch.allclose(split[0], split[1])
    # a prompt longer than the model's context is truncated instead of failing
    assert embeddings.clip_text_embeddings(clip, ["a cat " * 40]).shape == (1, 24)
    images = embeddings.clip_image_embeddings(clip, inputs.images(3, h=40, w=48))
    score = metrics.text_alignment(images, split)
    assert score.per_image.shape == (3,)
    assert -1.0 <= score.score <= 1.0


def test_alignment_prompt_strips_or_includes_style():
    style = "in watercolor style"
    assert embeddings.alignment_prompt("A cat in Watercolor Style, on a mat", style) == "A cat, on a mat"
    assert embeddings.alignment_prompt("a cat. in watercolor style", style) == "a cat"
    assert embeddings.alignment_prompt("a cat in watercolor style", style, include_style=True) == (
        "a cat in watercolor style")
    assert embeddings.alignment_prompt("a cat", style, include_style=True) == "a cat, in watercolor style"
    assert embeddings.alignment_prompt("a cat", "") == "a cat"


def test_split_prompts():
    assert embeddings.split_prompts("a cat\n\na dog\n", 2) == ["a cat", "a dog"]
    assert embeddings.split_prompts("a cat, oil painting", 3, style="oil painting") == ["a cat"] * 3
    with pytest.raises(ValueError, match="prompts: 2 prompt lines for 3 images"):
        embeddings.split_prompts("a\nb", 3)
    with pytest.raises(ValueError, match="prompts: line 1 .* empty once the style text is removed"):
        embeddings.split_prompts("oil painting", 1, style="oil painting")


def test_bad_inputs_name_the_input(dino, clip):
    with pytest.raises(ValueError, match="images: the batch is empty"):
        embeddings.dino_embeddings(dino, torch.zeros(0, 8, 8, 3))
    with pytest.raises(ValueError, match="references: the batch is empty"):
        embeddings.dino_embeddings(dino, [], name="references")
    with pytest.raises(ValueError, match="images: images need 1, 3 or 4 channels"):
        embeddings.dino_embeddings(dino, torch.zeros(1, 8, 8, 2))
    with pytest.raises(ValueError, match="batch_size: must be at least 1"):
        embeddings.dino_embeddings(dino, inputs.images(1, h=40, w=48), batch_size=0)
    with pytest.raises(ValueError, match="not a CLIP-like model"):
        embeddings.load_clip(str(Path(dino[0].name_or_path)))


def test_missing_model_folder_says_where_to_put_it(tmp_path):
    with pytest.raises(RuntimeError, match="not found in"):
        load_pretrained(embeddings.load_dino, "nobody/missing-dino", [str(tmp_path)], "dino")


def test_script_functions_take_a_bundle_or_a_model_name(model_dir, dino, clip):
    images, refs = inputs.images(3, seed=6, h=40, w=48), inputs.images(2, seed=7, h=40, w=48)
    by_bundle = embeddings.weighted_dino_score(dino, images, refs, "3, 1")
    by_name = embeddings.weighted_dino_score("tiny-dino", images, refs, [0.75, 0.25], search_dirs=[str(model_dir)])
    by_path = embeddings.weighted_dino_score(str(model_dir / "tiny-dino"), images, refs, [3, 1])
    assert by_bundle.score == pytest.approx(by_name.score, abs=1e-6) == pytest.approx(by_path.score, abs=1e-6)
    # one progress over both encodings: the references continue where the images stopped
    seen = []
    embeddings.weighted_dino_score(dino, images, refs, progress=lambda done, total: seen.append((done, total)),
                                   batch_size=2)
    assert seen == [(2, 5), (3, 5), (5, 5)]
    pils = images_module.to_pil_images(images)
    assert embeddings.dino_set_consistency(dino, pils).score == pytest.approx(
        embeddings.dino_set_consistency(dino, images).score, abs=1e-6)
    result, prompts = embeddings.clip_text_alignment(clip, images, ["a cat, ink", "a dog, ink", "a cat"], style="ink")
    assert prompts == ["a cat", "a dog", "a cat"] and result.per_image.shape == (3,)
    same_text = embeddings.clip_text_alignment(clip, images[[0, 0]], ["a cat", "a cat, ink"], style="ink")[0]
    assert same_text.per_image[0] == pytest.approx(float(same_text.per_image[1]), abs=1e-6)
