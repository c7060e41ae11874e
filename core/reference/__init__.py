"""Reference images: DDIM inversion, the trajectory it leaves behind, and multi-reference blends
(Z-SAMB)."""
