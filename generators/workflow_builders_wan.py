"""Shipped workflows for Wan 2.2 (the TI2V 5B, one model file; WAN22_T2V in the host), built with workflow_graph's
pieces and loaded as the host's own Wan 2.2 5B template loads it: the diffusion model with ModelSamplingSD3 shift 8,
umT5 (CLIPLoader type wan), the Wan 2.2 VAE; sampled with uni_pc / simple at cfg 5. The clips are decoded and saved
with the host's video nodes (Create Video, Save Video; both hosts have them). make_workflows registers `workflows`."""

import workflow_graph as graph

WAN22_FILES = dict(unet="wan2.2_ti2v_5B_fp16.safetensors", text="umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                   vae="wan2.2_vae.safetensors")
CLIP_PROMPTS = ("a lighthouse on a cliff, waves rolling in\na cat walking through tall grass\n"
                "a bicycle rolling down a village street\na small boat drifting on a mountain lake")
CLIP_STYLE = "watercolor animation, soft pastel colours, gentle camera movement"
NEGATIVE = "blurry, low quality, watermark, text, static, deformed, jittery, flickering"
WIDTH, HEIGHT = 1280, 704  # the 5B's native 720p size (multiples of 32: 16x the VAE, 2x the patch)
LENGTH = 49  # video frames: 4k + 1 (the VAE keeps the first frame and packs 4 per latent frame): 13 latent frames
FPS = 24  # the 5B makes 24 fps video
STEPS, CFG = 30, 5.0
WAN_NOTE = (
    "On Wan the patch shares in every block's self-attention over the clip (layers = auto: all blocks): each "
    "target clip attends to its own tokens and to every token of the reference clip, every frame of it; AdaIN "
    "moves the targets' queries and keys to the reference clip's statistics; the cross-attention to the prompt "
    "is left alone. reference_positions = shift places the reference clip one clip width beside each target, "
    "so the style carries over without the layout. A set of N clips costs about (1 + 2 (N - 1)) / N times the "
    "attention of N plain clips. Save Video writes the clips one after another in one file, the reference first "
    "(each clip is 'length' frames).")


def _loaders(b):
    unet = b.add("UNETLoader", 0, 60, unet_name=WAN22_FILES["unet"])
    clip = b.add("CLIPLoader", 0, 200, clip_name=WAN22_FILES["text"], type="wan")
    vae = b.add("VAELoader", 0, 380, vae_name=WAN22_FILES["vae"])
    shift = b.add("ModelSamplingSD3", 1, 60, shift=8.0)
    b.connect(unet, "MODEL", shift, "model")
    return shift, clip, vae


def _save_clips(b, dec, col, y, prefix):
    """Create Video (FPS) from the decoded frames and Save Video, under the VAE Decode."""
    video = b.add("CreateVideo", col, y + 260, fps=float(FPS))
    b.connect(dec, "IMAGE", video, "images")
    save = b.add("SaveVideo", col, y + 420, node_width=420, filename_prefix=prefix)
    b.connect(video, "VIDEO", save, "video")
    return save


def _sampler_and_video(b, vae, model, positive, negative, latent, col, y, prefix):
    """KSampler (seed 42, uni_pc / simple as the host's Wan 2.2 template), VAE Decode, Create Video, Save Video."""
    ks = b.add("KSampler", col, y, seed=42, steps=STEPS, cfg=CFG, sampler_name="uni_pc", scheduler="simple",
               denoise=1.0)
    b.connect(model, "MODEL", ks, "model")
    b.connect(positive, "CONDITIONING", ks, "positive")
    b.connect(negative, "CONDITIONING", ks, "negative")
    b.connect(latent, "LATENT", ks, "latent_image")
    dec = b.add("VAEDecode", col + 1, y)
    b.connect(ks, "LATENT", dec, "samples")
    b.connect(vae, "VAE", dec, "vae")
    return _save_clips(b, dec, col + 1, y, prefix)


def _negative(b, clip, col, y):
    neg = b.add("CLIPTextEncode", col, y, title="Negative prompt", text=NEGATIVE)
    b.connect(clip, "CLIP", neg, "clip")
    return neg


def wan22_clips(specs):
    b = graph.Builder(specs)
    model, clip, vae = _loaders(b)
    patch = graph.patch_model(b, model, 1, 200)
    prompts = graph.batch_prompts(b, clip, 1, 620, prompts=CLIP_PROMPTS, style=CLIP_STYLE, width=WIDTH, height=HEIGHT,
                               length=LENGTH)
    neg = _negative(b, clip, 0, 520)
    _sampler_and_video(b, vae, patch, prompts, neg, prompts, 2, 60, "style_aligned/wan22_clips")
    b.note(
        f"Style-aligned clips on Wan 2.2 (TI2V 5B), prompts only: {WIDTH} x {HEIGHT}, {LENGTH} frames at {FPS} fps "
        "per clip. The FIRST prompt line is the reference clip; every other line becomes a clip in its style. "
        "Batch Prompts makes the video latent of the set ('length' in video frames, 4k + 1); Wan 2.1 and Wan 2.2 "
        "14B (their own loaders and VAE) work the same way.\n\n" + WAN_NOTE + "\n\nPoint the loaders at your files ("
        + ", ".join(WAN22_FILES.values()) + ").", 0, 720, height=420)
    return b.ui()


def wan22_reference_clip(specs):
    b = graph.Builder(specs)
    model, clip, vae = _loaders(b)
    load = b.add("LoadImage", 0, 520, title="Reference (a still, or your clip's frames)", image="style_reference.png")
    frames = b.add("RepeatImageBatch", 0, 920, title="Still clip", amount=LENGTH)
    b.connect(load, "IMAGE", frames, "image")
    scale = b.add("ImageScale", 1, 200, upscale_method="lanczos", width=WIDTH, height=HEIGHT, crop="center")
    b.connect(frames, "IMAGE", scale, "image")
    enc = b.add("VAEEncode", 1, 420)
    b.connect(scale, "IMAGE", enc, "pixels")
    b.connect(vae, "VAE", enc, "vae")
    ref_prompt = b.add("CLIPTextEncode", 1, 540, title="Describe the reference",
                       text="a lighthouse on a cliff, watercolor painting")
    b.connect(clip, "CLIP", ref_prompt, "clip")
    # flow matching: Euler in sigma space is the inversion; the schedule of the sampler below, at cfg 1
    invert = b.add("DDIMInvertReference", 2, 60, steps=STEPS, cfg=1.0, scheduler="simple")
    b.connect(model, "MODEL", invert, "model")
    b.connect(enc, "LATENT", invert, "latent")
    b.connect(ref_prompt, "CONDITIONING", invert, "positive")
    patch = graph.patch_model(b, model, 2, 400, invert)
    prompts = graph.batch_prompts(b, clip, 2, 760, invert, prompts=graph.REFERENCE_PROMPTS, style="watercolor painting",
                               width=WIDTH, height=HEIGHT, length=LENGTH)
    neg = _negative(b, clip, 0, 1100)
    _sampler_and_video(b, vae, patch, prompts, neg, prompts, 3, 60, "style_aligned/wan22_reference_clip")
    b.note(
        "Style-aligned clips on Wan 2.2 (TI2V 5B) from a reference CLIP. Its frames -> scale -> VAE Encode (Wan's "
        "video VAE) -> DDIM Invert Reference (on a flow model the flow-matching inversion) keeps the reference "
        "clip's trajectory; the patch puts clip 0 back on it at every step, so the first clip of the output is your "
        "reference and every other clip takes its style. Here the reference is a still picture repeated into a "
        f"{LENGTH}-frame clip; for your own video use Load Video -> Get Video Components (images) -> Image From "
        f"Batch (length {LENGTH}, or any 4k + 1) in place of Load Image and Repeat Image Batch. The set takes the "
        "reference's size and frame count (a saved reference refuses clips of another length). Describe the "
        "reference in 'Describe the reference' AND as the first prompt line.\n\n" + WAN_NOTE, 5, 520, height=460)
    return b.ui()


def workflows(first_number):
    """{file name: builder}, numbered from `first_number` (after the workflows already shipped; the Browse
    Templates dialog orders the cards by the number). Titles keep the dialog's 28 characters."""
    return {f"{first_number:02d} Wan 2.2 aligned clips.json": wan22_clips,
            f"{first_number + 1:02d} Wan 2.2 reference clip.json": wan22_reference_clip}
