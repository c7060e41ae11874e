"""Tiny multi-modal models built from configs with random weights, saved to a folder.

Tokenizers and processors are built locally (no hub).
"""

import dataclasses
import json
import os

import torch

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "photo", "painting", "of", "cat", "dog",
         "the", "house", "tree", "red", "blue", "sky", "sea"]


def _seed(seed):
    torch.manual_seed(seed)


def blip(folder, seed=0):
    """BLIP captioner: tiny ViT + BERT decoder, WordPiece tokenizer from a 19-word vocab."""
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    os.makedirs(folder, exist_ok=True)
    vocab = os.path.join(folder, "vocab.txt")
    with open(vocab, "w") as f:
        f.write("\n".join(WORDS))
    # from_pretrained reads vocab.txt in transformers 4 and 5 (5 ignores a vocab_file= argument)
    tokenizer = BertTokenizerFast.from_pretrained(folder, do_lower_case=True, bos_token="[DEC]")
    _seed(seed)
    config = BlipConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, encoder_hidden_size=32, max_position_embeddings=64,
                         bos_token_id=WORDS.index("[DEC]"), pad_token_id=0, sep_token_id=3, eos_token_id=3),
        projection_dim=32,
    )
    BlipForConditionalGeneration(config).save_pretrained(folder)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                  tokenizer=tokenizer).save_pretrained(folder)
    return str(folder)


def clap(folder, seed=0):
    """CLAP: tiny HTSAT (16 mel bins, 2 s) + RoBERTa with a character-level BPE tokenizer."""
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizerFast

    os.makedirs(folder, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for ch in "abcdefghijklmnopqrstuvwxyz.-Ġ":
        vocab.setdefault(ch, len(vocab))
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
    tokenizer = RobertaTokenizerFast.from_pretrained(folder)  # reads vocab.json + merges.txt (transformers 4 and 5)
    _seed(seed)
    config = ClapConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=80, projection_dim=16),
        audio_config=dict(spec_size=64, window_size=4, num_mel_bins=16, patch_embeds_hidden_size=16, hidden_size=32,
                          depths=[1, 1], num_attention_heads=[2, 2], projection_dim=16, enable_fusion=False,
                          patch_stride=[4, 4], patch_size=4),
        projection_dim=16,
    )
    ClapModel(config).save_pretrained(folder)
    extractor = ClapFeatureExtractor(feature_size=16, max_length_s=2, truncation="rand_trunc")
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return str(folder)


def dpt(folder, seed=0):
    """DPT (ViT, not hybrid) at 32 px with a 4-stage neck."""
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    _seed(seed)
    config = DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8, backbone_out_indices=[0, 1, 2, 3],
                       neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, reassemble_factors=[4, 2, 1, 0.5])
    model = DPTForDepthEstimation(config)
    with torch.no_grad():  # lift the head above its final ReLU so random weights give a varied map
        model.head.head[-2].bias.fill_(1.0)
    model.save_pretrained(folder)
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(folder)
    return str(folder)


def whisper_checkpoint(path, seed=0):
    """A Whisper .pt in the official layout; multilingual vocab so whisper's tokenizer fits."""
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
                           n_vocab=51865, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=1)
    _seed(seed)
    model = Whisper(dims)
    os.makedirs(os.path.dirname(str(path)) or ".", exist_ok=True)
    torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": model.state_dict()}, path)
    return str(path)
