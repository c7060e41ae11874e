"""A test-only node pack for the headless host: tiny loaders that stand in for real weights.

Linked into the server's `custom_nodes/` by the server tests and by the demo; the server finds the
harness through PYTHONPATH (harness.server.HostServer sets it).
"""

from harness import tiny_dit_text, tiny_edit_hunyuan_kandinsky, tiny_flux2, tiny_models, tiny_nextdit, tiny_wan

_CACHE = {}


class TinyCheckpointLoader:
    """MODEL/CLIP/VAE of a tiny test model (random weights: images are noise): SD1.5- or SDXL-shaped on any
    host; Flux (dev, schnell), SD3 and Qwen-Image-shaped DiTs with the host's text encoders on upstream only."""

    CATEGORY = "style_aligned_tests"
    FUNCTION = "load"
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    DESCRIPTION = ("Tiny random SD1.5/SDXL/Flux/SD3/Qwen-Image-shaped model for tests and the demo. Its images "
                   "are noise.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"kind": (["sd15", "sdxl", *tiny_dit_text.DIT_KINDS, *tiny_nextdit.KINDS,
                                       *tiny_edit_hunyuan_kandinsky.KINDS, *tiny_flux2.KINDS, *tiny_wan.KINDS],
                                      {"default": "sd15"}),
                             "seed": ("INT", {"default": 0, "min": 0, "max": 2**31 - 1})}}

    def load(self, kind, seed):
        key = ("ckpt", kind, seed)
        if key not in _CACHE:
            if kind in tiny_nextdit.KINDS:  # Z-Image, Krea 2, Boogu (v0.28)
                _CACHE[key] = (tiny_nextdit.tiny(kind, seed), tiny_nextdit.tiny_clip(kind, seed),
                               tiny_nextdit.tiny_vae(kind, seed))
            elif kind in tiny_wan.KINDS:  # Wan 2.1 / 2.2 video
                _CACHE[key] = (tiny_wan.tiny_wan(kind, seed), tiny_wan.tiny_wan_clip(seed),
                               tiny_wan.tiny_wan_vae(kind, seed))
            elif kind in tiny_flux2.KINDS:  # FLUX.2 dev / Klein, LongCat-Image (v0.28), Chroma Radiance
                _CACHE[key] = tiny_flux2.tiny_kit(kind, seed)
            elif kind in tiny_edit_hunyuan_kandinsky.KINDS:  # HunyuanImage 2.1, Kandinsky 5, Qwen-Image-Edit 2511
                _CACHE[key] = tiny_edit_hunyuan_kandinsky.tiny_kit(kind, seed)
            elif kind in tiny_dit_text.DIT_KINDS:
                _CACHE[key] = (tiny_models.TINY_DITS[kind](seed), tiny_dit_text.tiny_dit_clip(kind, seed),
                               tiny_dit_text.tiny_dit_vae(kind, seed))
                if kind == "qwen_image":  # the edit text-encode nodes read images: a tiny vision tower
                    tiny_edit_hunyuan_kandinsky.with_tiny_vision(_CACHE[key][1], seed)
            else:
                _CACHE[key] = (tiny_models.tiny_model(kind, seed), tiny_models.tiny_clip(kind, seed),
                               tiny_models.tiny_vae(seed))
        return _CACHE[key]


class _TinyPart:
    """One part of a tiny checkpoint, standing in for the host's separate loaders (UNETLoader,
    DualCLIPLoader / CLIPLoader, VAELoader) that DiT workflows use; the same cached model as
    TinyCheckpointLoader of that kind."""

    CATEGORY = "style_aligned_tests"
    FUNCTION = "load"
    PART = 0

    @classmethod
    def INPUT_TYPES(cls):
        return TinyCheckpointLoader.INPUT_TYPES()

    def load(self, kind, seed):
        return (TinyCheckpointLoader().load(kind, seed)[self.PART],)


class TinyDiffusionModelLoader(_TinyPart):
    RETURN_TYPES = ("MODEL",)
    PART = 0


class TinyTextEncoderLoader(_TinyPart):
    RETURN_TYPES = ("CLIP",)
    PART = 1


class TinyVAELoader(_TinyPart):
    RETURN_TYPES = ("VAE",)
    PART = 2


class TinyControlNetLoader:
    CATEGORY = "style_aligned_tests"
    FUNCTION = "load"
    RETURN_TYPES = ("CONTROL_NET",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"kind": (["sd15", "sdxl"], {"default": "sd15"})}}

    def load(self, kind):
        return (tiny_models.tiny_controlnet(kind),)


NODE_CLASS_MAPPINGS = {
    "TinyCheckpointLoader": TinyCheckpointLoader,
    "TinyDiffusionModelLoader": TinyDiffusionModelLoader,
    "TinyTextEncoderLoader": TinyTextEncoderLoader,
    "TinyVAELoader": TinyVAELoader,
    "TinyControlNetLoader": TinyControlNetLoader,
}
NODE_DISPLAY_NAME_MAPPINGS = {name: f"{name} (test)" for name in NODE_CLASS_MAPPINGS}
