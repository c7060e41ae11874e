"""Shipped workflows for the DiT families that offer no block replace (Z-Image Turbo, Krea 2), built with
workflow_graph's pieces, as the host's own templates for these models load and sample them (the turbo
models' few steps at cfg 1, where the negative is never used). make_workflows registers `workflows`."""

import workflow_graph as graph

Z_IMAGE_FILES = dict(unet="z_image_turbo_bf16.safetensors", text="qwen_3_4b.safetensors", vae="ae.safetensors")
KREA2_FILES = dict(unet="krea2_turbo_fp8_scaled.safetensors", text="qwen3vl_4b_fp8_scaled.safetensors",
                   vae="qwen_image_vae.safetensors")


def _loaders(b, files, clip_type):
    """UNETLoader, CLIPLoader (of `clip_type`) and VAELoader of these files, in column 0."""
    unet = b.add("UNETLoader", 0, 60, unet_name=files["unet"])
    clip = b.add("CLIPLoader", 0, 200, clip_name=files["text"], type=clip_type)
    vae = b.add("VAELoader", 0, 380, vae_name=files["vae"])
    return unet, clip, vae


def _turbo_prompts(specs, files, clip_type, model_node, prefix, note):
    """Prompts only on a distilled turbo model: 8 steps at cfg 1 (the negative is the positive zeroed out, as the
    host's templates fill the unused slot), 1024 px. `model_node(b, unet)` gives the model the patch goes on."""
    b = graph.Builder(specs)
    unet, clip, vae = _loaders(b, files, clip_type)
    patch = graph.patch_model(b, model_node(b, unet), 1, 200)
    prompts = graph.batch_prompts(b, clip, 1, 620, prompts=graph.PROMPTS, style=graph.STYLE, width=1024, height=1024)
    neg = graph.zero_negative(b, prompts, 2, 620)
    graph.sample_and_save(b, vae, patch, prompts, neg, prompts, 2, 60, prefix, steps=8, cfg=1.0, scheduler="simple")
    b.note(note + "\n\n" + graph.DIT_NOTE + "\n\nPoint the loaders at your files (" + ", ".join(files.values()) + ").",
           0, 660, height=420)
    return b.ui()


def z_image_turbo_prompts(specs):
    def shifted(b, unet):  # the host template's ModelSamplingAuraFlow shift 3
        shift = b.add("ModelSamplingAuraFlow", 1, 60, shift=3.0)
        b.connect(unet, "MODEL", shift, "model")
        return shift

    return _turbo_prompts(
        specs, Z_IMAGE_FILES, "lumina2", shifted, "style_aligned/z_image_turbo_prompts",
        "StyleAligned on Z-Image Turbo, prompts only (1024 px), with the host template's recipe: "
        "ModelSamplingAuraFlow shift 3, 8 steps at cfg 1 (Turbo is distilled: the negative is never used). The "
        "FIRST prompt line is the reference; every other line takes its style. layers = auto: every layer (Z-Image's "
        "layers see caption and image as one sequence); its caption and image refiners never share, and AdaIN "
        "reads only the real image tokens, not the pad tokens Z-Image adds.")


def krea2_prompts(specs):
    return _turbo_prompts(
        specs, KREA2_FILES, "krea2", lambda b, unet: unet, "style_aligned/krea2_prompts",
        "StyleAligned on Krea 2 Turbo, prompts only (1024 px), with the host template's recipe: 8 steps at cfg 1 "
        "(Turbo is distilled: the negative is never used). The FIRST prompt line is the reference; every other "
        "line takes its style. layers = auto: every single-stream block; the text-fusion stages before them never "
        "share. A style LoRA (LoraLoaderModelOnly) goes between the model loader and Style Aligned Patch Model.")


def workflows(first_number):
    """{file name: builder}, numbered from `first_number` (after make_workflows' existing titles; the Browse
    Templates dialog orders the cards by the number). Titles keep the dialog's 28 characters."""
    return {f"{first_number:02d} Z-Image Turbo prompts.json": z_image_turbo_prompts,
            f"{first_number + 1:02d} Krea 2 prompts only.json": krea2_prompts}
