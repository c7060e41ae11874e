"""StyleAligned itself: shared self-attention with AdaIN, shared GroupNorm, which layers share, and a
set as prompts (reference first)."""
