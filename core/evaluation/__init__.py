"""Measuring a set: DINO and CLIP embeddings, set consistency, text alignment, the weighted multi-style
score, and charts."""
