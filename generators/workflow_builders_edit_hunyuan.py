"""Shipped workflows for Qwen-Image-Edit 2511 and HunyuanImage 2.1 (registered in make_workflows.WORKFLOWS).

The canvas pieces (Builder, the patch, the sampler) are workflow_graph's; make_workflows lists these builders.
"""

import workflow_graph as graph

QWEN_EDIT_FILES = dict(unet="qwen_image_edit_2511_bf16.safetensors", text="qwen_2.5_vl_7b_fp8_scaled.safetensors",
                       vae="qwen_image_vae.safetensors")
HUNYUAN_IMAGE_FILES = dict(unet="hunyuanimage2.1_bf16.safetensors", qwen="qwen_2.5_vl_7b.safetensors",
                           byt5="byt5_small_glyphxl_fp16.safetensors", vae="hunyuan_image_2.1_vae_fp16.safetensors")
# (input image, edit instruction): the style image's edit first (the reference row), then the other images'
EDITS = (
    ("style_reference.png", "Keep this watercolor painting as it is: the same lighthouse, cliff, sea and colours."),
    ("content.png", "Repaint this picture as a watercolor painting on rough paper; keep the house and the tree."),
    ("control.png", "Repaint this picture as a watercolor painting on rough paper; keep the house and the ball."),
)
EDIT_SIZE = 1024  # every edit image is scaled to one size: their rows are one batch


def _edit_row(b, clip, vae, image, instruction, col, y):
    """Load Image -> scale -> the host's Qwen edit text-encode (the image read by the vision-language encoder)
    -> Reference Latent (the same image VAE-encoded: the edit's reference tokens): one row's conditioning."""
    load = b.add("LoadImage", col, y, image=image)
    scale = b.add("ImageScale", col, y + 380, upscale_method="lanczos", width=EDIT_SIZE, height=EDIT_SIZE,
                  crop="center")
    b.connect(load, "IMAGE", scale, "image")
    encode = b.add("TextEncodeQwenImageEditPlus", col + 1, y, title=f"Edit of {image}", prompt=instruction)
    b.connect(clip, "CLIP", encode, "clip")
    b.connect(scale, "IMAGE", encode, "image1")
    latent = b.add("VAEEncode", col + 1, y + 300)
    b.connect(scale, "IMAGE", latent, "pixels")
    b.connect(vae, "VAE", latent, "vae")
    reference = b.add("ReferenceLatent", col + 1, y + 420)
    b.connect(encode, "CONDITIONING", reference, "conditioning")
    b.connect(latent, "LATENT", reference, "latent")
    return reference


EDIT_NOTE = (
    "StyleAligned with Qwen-Image-Edit 2511: a set of edits of DIFFERENT images, all in the style of the first "
    "one.\n\n"
    "Each row is one image's edit, made by the host's own nodes: Text Encode Qwen Image Edit Plus (the "
    "instruction, with the image read by the vision-language encoder) and Reference Latent (the image, "
    "VAE-encoded, as the edit's reference). The Conditioning (Combine) chain puts the rows in order, the "
    "FIRST is the reference row: the edit of the style image. Style Aligned Batch Prompts makes one batch of "
    "them (its 'conditioning' input: one row per combined conditioning; the prompt lines then only name the "
    "rows) and an empty latent of the images' size. The patch lets every other row attend to the reference "
    "row's image tokens (never to its text or to its edit image), so the targets keep their own content and "
    "take the reference's look.\n\n"
    f"All images are scaled to one size ({EDIT_SIZE} px) because the rows are one batch. Add an image: one more "
    "Load Image -> Scale -> Edit -> Reference Latent row and one more Conditioning (Combine). The negative is "
    "the rows zeroed out (same images, no instruction). Sampling as the host's template: AuraFlow shift 3.1, "
    "CFGNorm, cfg 4, 20 steps.")


def qwen_edit_one_style(specs):
    b = graph.Builder(specs)
    unet = b.add("UNETLoader", 0, 60, unet_name=QWEN_EDIT_FILES["unet"])
    clip = b.add("CLIPLoader", 0, 200, clip_name=QWEN_EDIT_FILES["text"], type="qwen_image")
    vae = b.add("VAELoader", 0, 380, vae_name=QWEN_EDIT_FILES["vae"])
    rows = [_edit_row(b, clip, vae, image, instruction, 2 * i + 1, 60) for i, (image, instruction) in
            enumerate(EDITS)]
    combined = rows[0]
    for row in rows[1:]:
        combine = b.add("ConditioningCombine", 2 * len(EDITS), 60 + 120 * rows.index(row))
        b.connect(combined, "CONDITIONING", combine, "conditioning_1")
        b.connect(row, "CONDITIONING", combine, "conditioning_2")
        combined = combine
    top = b.bottom() + 60
    prompts = b.add("StyleAlignedBatchPrompts", 1, top, prompts="\n".join(image for image, _ in EDITS), style="",
                    width=EDIT_SIZE, height=EDIT_SIZE)
    b.connect(clip, "CLIP", prompts, "clip")
    b.connect(combined, "CONDITIONING", prompts, "conditioning")
    negative = b.add("ConditioningZeroOut", 2, top, title="Negative: the rows, no instruction")
    b.connect(prompts, "CONDITIONING", negative, "conditioning")
    shift = b.add("ModelSamplingAuraFlow", 3, top, shift=3.1)
    b.connect(unet, "MODEL", shift, "model")
    norm = b.add("CFGNorm", 3, top + 120)
    b.connect(shift, "MODEL", norm, "model")
    patch = graph.patch_model(b, norm, 4, top, score_scale=1.1)
    graph.sample_and_save(b, vae, patch, prompts, negative, prompts, 5, top, "style_aligned/qwen_edit_one_style",
                       steps=20, cfg=4.0, scheduler="simple")
    b.note(EDIT_NOTE + "\n\n" + graph.DIT_NOTE + "\n\nPoint the loaders at your files (" +
           ", ".join(QWEN_EDIT_FILES.values()) + ").", 0, top, height=640)
    return b.ui()


def hunyuan_image_prompts(specs):
    b = graph.Builder(specs)
    unet = b.add("UNETLoader", 0, 60, unet_name=HUNYUAN_IMAGE_FILES["unet"])
    clip = b.add("DualCLIPLoader", 0, 200, clip_name1=HUNYUAN_IMAGE_FILES["qwen"],
                 clip_name2=HUNYUAN_IMAGE_FILES["byt5"], type="hunyuan_image")
    vae = b.add("VAELoader", 0, 380, vae_name=HUNYUAN_IMAGE_FILES["vae"])
    patch = graph.patch_model(b, unet, 1, 60, score_scale=1.1)
    prompts = graph.batch_prompts(b, clip, 1, 560, prompts=graph.PROMPTS, style=graph.STYLE, width=2048, height=2048)
    negative = graph.negative_encoder(b, clip, 0, 520)
    graph.sample_and_save(b, vae, patch, prompts, negative, prompts, 2, 60, "style_aligned/hunyuan_image_prompts",
                       steps=20, cfg=3.5, scheduler="simple")
    b.note(
        "StyleAligned on HunyuanImage 2.1, prompts only (2048 px, the model's native size; its latents are 64 "
        "channels at 1/32, so width and height are multiples of 32). The FIRST prompt line is the reference. "
        "Quoted text in a prompt (\"...\") goes to the byT5 glyph encoder, as with the host's own text encode; "
        "prompts of different lengths are padded without an attention mask (the host's HunyuanImage model "
        "cannot take one for a batch). Sampling: cfg 3.5, 20 steps (the distilled model: 8 steps, cfg 1).\n\n"
        + graph.DIT_NOTE.replace("Flux's single-stream blocks", "Flux's and HunyuanImage's single-stream blocks")
        + "\n\nPoint the loaders at your files (" + ", ".join(HUNYUAN_IMAGE_FILES.values()) + ").",
        0, 660, height=420)
    return b.ui()


def workflows(first_number):
    """{file name: builder}, numbered from `first_number` (after make_workflows' existing titles; the Browse
    Templates dialog orders the cards by the number). Titles keep the dialog's 28 characters: "Qwen-Edit 2511 one
    style" is the edits of several images in one style."""
    return {f"{first_number:02d} Qwen-Edit 2511 one style.json": qwen_edit_one_style,
            f"{first_number + 1:02d} HunyuanImage 2.1 prompts.json": hunyuan_image_prompts}
