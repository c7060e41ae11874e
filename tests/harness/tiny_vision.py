"""Tiny DINO (ViT) and CLIP models with random weights, saved like hub folders.

Nothing comes from a hub: configs are small, the CLIP tokenizer is built from a letter-level BPE
vocabulary written here (the real CLIP file format: vocab.json + merges.txt), and the image
processors are constructed from parameters.
"""

import json
import string
from pathlib import Path

import torch

IMAGE_SIZE = 32


def save_tiny_dino(folder, seed=0):
    """A 1-layer ViT (hidden 32, patch 8, image 32) with a ViT image processor."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(seed)
    config = ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       image_size=IMAGE_SIZE, patch_size=8)
    folder = Path(folder)
    ViTModel(config).save_pretrained(folder)
    ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(folder)
    return folder


def _write_bpe_vocab(folder):
    """Letters, letters ending a word, and a few merges: enough to tokenise any lowercase prompt."""
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    symbols = list(string.ascii_lowercase + string.digits + ",.!?'-")
    tokens += symbols + [s + "</w>" for s in symbols]
    merges = ["c a", "ca t</w>", "d o", "do g</w>"]
    tokens += ["ca", "cat</w>", "do", "dog</w>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return vocab


def save_tiny_clip(folder, seed=0):
    """A CLIPModel with 1-layer text and vision towers, a local tokenizer and image processor."""
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPTokenizerFast,
        CLIPVisionConfig,
    )

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = _write_bpe_vocab(folder)
    eos = vocab["<|endoftext|>"]
    # from_pretrained reads vocab.json + merges.txt in transformers 4 and 5 (5 ignores vocab_file=/merges_file=)
    tokenizer = CLIPTokenizerFast.from_pretrained(folder, model_max_length=16, pad_token="<|endoftext|>")
    text = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                          num_attention_heads=2, max_position_embeddings=16, bos_token_id=vocab["<|startoftext|>"],
                          eos_token_id=eos, pad_token_id=eos)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                              image_size=IMAGE_SIZE, patch_size=8)
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=24))
    model.save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE},
                                         crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder
