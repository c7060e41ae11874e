"""The method and what it needs, by concern; pure torch / numpy, no ComfyUI import (tested).

alignment/   StyleAligned itself: shared attention with AdaIN, shared GroupNorm, layer choice, prompt sets
reference/   reference images: DDIM inversion, trajectories, multi-reference blends (Z-SAMB)
content/     prompt text from images, speech, music and weather, fused into lines; depth maps
evaluation/  DINO / CLIP embeddings, set consistency, text alignment, weighted multi-style score, charts
common/      shared by the others: pretrained-model loading, image batches, tensor helpers, weights, checks
"""
