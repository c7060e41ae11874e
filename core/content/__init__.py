"""Prompt text from other media: image captions, speech transcripts, music mood, current weather, fused
into prompt lines; depth maps for ControlNet."""
