"""Writes the shipped UI-format workflows in workflows/ from the node classes' INPUT_TYPES (and, through
generators/make_inputs.py and generators/make_thumbnails.py, the sample inputs and the template cards' pictures).

    ./run make-workflows        (or, in the environment ./run made: python generators/make_workflows.py)

Every widget value is named here and put in INPUT_TYPES order by `workflow_api.ui_widget_values`,
so a renamed or reordered input fails loudly instead of shipping a workflow that loads wrong.
The workflows in workflows/ are the product; this script is how they were made.
"""

import json

import workflow_builders_edit_hunyuan
import workflow_builders_flux2
import workflow_builders_nextdit
import workflow_builders_wan
from workflow_graph import (
    DIT_NOTE,
    GROUP_PAD,
    GROUP_TITLE,
    KEEP_APART,
    OUT,
    PATCH_NOTE,
    PROMPTS,
    REFERENCE_PROMPTS,
    STYLE,
    TITLE_HEIGHT,
    Builder,
    batch_prompts,
    checkpoint,
    decode_and_save,
    host_specs,
    negative_encoder,
    patch_model,
    sample_and_save,
    zero_negative,
)

SDXL_CKPT = "sd_xl_base_1.0.safetensors"
SD15_CKPT = "v1-5-pruned-emaonly.safetensors"
DEPTH_CONTROLNET = "control_v11f1p_sd15_depth_fp16.safetensors"


def prompts_only(specs, ckpt_name, size, steps, cfg, prefix, family):
    b = Builder(specs)
    ckpt = checkpoint(b, ckpt_name)
    patch = patch_model(b, ckpt, 1, 60)
    prompts = batch_prompts(b, ckpt, 1, 520, prompts=PROMPTS, style=STYLE, width=size, height=size)
    neg = negative_encoder(b, ckpt, 0, 320)
    sample_and_save(b, ckpt, patch, prompts, neg, prompts, 2, 60, prefix, steps, cfg)
    b.note(
        f"StyleAligned, prompts only ({family}, {size} px). One batch, one style: the FIRST prompt line is the "
        "reference, every other line takes its style. The style text is added to every line (or use a template "
        "with {prompt}). Width/height: the batch size in pixels. window_start/window_size: for long lists, queue "
        "several windows; each keeps the reference as row 0 with the same noise so all batches match.\n\n"
        + PATCH_NOTE + f"\n\nPoint Load Checkpoint at your {family} checkpoint ({ckpt_name} by default).",
        0, 560, height=380)
    return b.ui()


SET_PROMPTS = "\n".join(["a house", "a cat", "a bicycle", "a mountain lake", "a lighthouse", "a teapot", "a fox",
                         "a sailing boat", "a city street", "an owl", "a bowl of fruit", "a guitar", "a tree"])


def whole_set(specs):
    """SDXL, 13 prompts sampled by Style Aligned Set Sampler in windows of 4 targets: one press."""
    b = Builder(specs)
    ckpt = checkpoint(b, SDXL_CKPT)
    patch = patch_model(b, ckpt, 1, 60)
    prompts = batch_prompts(b, ckpt, 1, 520, prompts=SET_PROMPTS, style=STYLE, width=1024, height=1024)
    neg = negative_encoder(b, ckpt, 0, 320)
    sampler = b.add("StyleAlignedSetSampler", 2, 60, window_size=4, seed=42, steps=30, cfg=7.0,
                    sampler_name="euler", scheduler="normal")
    b.connect(patch, "MODEL", sampler, "model")
    b.connect(prompts, "prompt_set", sampler, "prompt_set")
    b.connect(neg, "CONDITIONING", sampler, "negative")
    decode_and_save(b, ckpt, sampler, 3, 60, "style_aligned/whole_set")
    b.note(
        "A whole set in one press (SDXL, 1024 px): Style Aligned Set Sampler takes the prompt_set of Batch "
        "Prompts and samples it in windows of the reference + window_size targets, one after another, so any "
        "number of prompt lines fits your card (peak memory is one window's; the README has a table). Every "
        "window keeps the reference row with the same noise: the set shares one style, and each window is bit "
        "for bit what queueing it by hand would give. The progress bar counts windows x steps; Cancel stops "
        "between windows and Queue again samples only the windows not yet finished.\n\n" + PATCH_NOTE
        + f"\n\nPoint Load Checkpoint at your SDXL checkpoint ({SDXL_CKPT} by default).", 0, 560, height=380)
    return b.ui()


def inverted_reference(b, model, clip, vae, y, **inversion):
    """Load Image (column 0 from `y`) -> scale to 1024 -> VAE Encode -> DDIM Invert Reference with a prompt
    describing the reference; `model`, `clip`, `vae` are whatever gives them (a checkpoint or loaders)."""
    load = b.add("LoadImage", 0, y, image="style_reference.png")
    scale = b.add("ImageScale", 0, y + 400, upscale_method="lanczos", width=1024, height=1024, crop="center")
    b.connect(load, "IMAGE", scale, "image")
    enc = b.add("VAEEncode", 1, 60)
    b.connect(scale, "IMAGE", enc, "pixels")
    b.connect(vae, "VAE", enc, "vae")
    ref_prompt = b.add("CLIPTextEncode", 1, 180, title="Describe the reference",
                       text="a lighthouse on a cliff, watercolor painting")
    b.connect(clip, "CLIP", ref_prompt, "clip")
    invert = b.add("DDIMInvertReference", 1, 420, **inversion)
    b.connect(model, "MODEL", invert, "model")
    b.connect(enc, "LATENT", invert, "latent")
    b.connect(ref_prompt, "CONDITIONING", invert, "positive")
    return invert


def reference_image(specs):
    b = Builder(specs)
    ckpt = checkpoint(b, SDXL_CKPT)
    # the original transfer recipe (style_aligned_transfer_sdxl.ipynb): inversion guidance 2, score shift
    # log 2, GroupNorm sharing, generation guidance 10, the reference 5 of 50 steps ahead of the targets
    invert = inverted_reference(b, ckpt, ckpt, ckpt, 320, steps=50, cfg=2.0, scheduler="normal")
    patch = patch_model(b, ckpt, 2, 60, invert, score_shift=0.693, share_group_norm=True, reference_offset=0.1)
    prompts = batch_prompts(b, ckpt, 2, 560, invert,
                            prompts=REFERENCE_PROMPTS, style="watercolor painting", width=1024, height=1024)
    neg = negative_encoder(b, ckpt, 0, 820)
    sample_and_save(b, ckpt, patch, prompts, neg, prompts, 3, 60, "style_aligned/reference", steps=50, cfg=10.0)
    b.note(
        "StyleAligned from a reference IMAGE (SDXL). Load Image -> scale -> VAE Encode -> DDIM Invert Reference "
        "keeps the reference's whole noise trajectory; the patch puts the reference back on that trajectory at "
        "every step, so row 0 of the output is your image and every other row takes its style.\n\n"
        "Describe the reference in 'Describe the reference' AND as the first prompt line. The batch takes the "
        "reference's size (the width/height widgets are then ignored).\n\n"
        "Settings of the original transfer demo (style_aligned_transfer_sdxl.ipynb): inversion 50 steps with "
        "cfg 2 (guidance while inverting); score_shift 0.693 = log 2 (targets weigh the reference twice); "
        "share_group_norm on (targets' GroupNorm statistics include the reference); reference_offset 0.1 (the "
        "reference starts 5 of 50 steps less noisy than the targets and waits there); sampling 50 steps at cfg "
        "10. 'refinement' > 0 makes the inversion retrace exactly at extra cost.\n\n" + PATCH_NOTE,
        4, 520, height=480)
    return b.ui()


def multi_reference(specs):
    """Three pipelines side by side, each in its own group, fed by one group of shared inputs."""
    b = Builder(specs)
    ckpt = checkpoint(b, SD15_CKPT, y=100)
    latents = []
    for i, name in enumerate(("style_a.png", "style_b.png")):
        load = b.add("LoadImage", 0, 320 + 380 * i, title=f"Style reference {'AB'[i]}", image=name)
        scale = b.add("ImageScale", 1, 320 + 380 * i, upscale_method="lanczos", width=512, height=512,
                      crop="center")
        b.connect(load, "IMAGE", scale, "image")
        enc = b.add("VAEEncode", 1, 520 + 380 * i)
        b.connect(scale, "IMAGE", enc, "pixels")
        b.connect(ckpt, "VAE", enc, "vae")
        latents.append(enc)
    ref_prompt = b.add("CLIPTextEncode", 0, 1100, title="Describe the references", text="a painting")
    b.connect(ckpt, "CLIP", ref_prompt, "clip")
    neg = negative_encoder(b, ckpt, 0, 1340)
    shared = list(b.nodes)
    b.group("Shared: checkpoint, the two references, prompts", shared, "#b58b2a")

    y = 100
    for method, weights, color in (("Linear", "", "#3f789e"), ("SLERP", "", "#8A8"),
                                   ("attention", "0.5, 0.5", "#a1309b")):
        first = len(b.nodes)
        name = method.lower()
        if method == "attention":  # no blend: both references as K = 2 rows, weighted on the patch
            source = b.add("MultiRefBlend", 2, y, title="Both references (K = 2)", method=KEEP_APART, weights="")
        else:
            source = b.add("MultiRefBlend", 2, y, title=f"Z-SAMB blend ({method})", method=method,
                           weights="0.5, 0.5", keep_norm=True)
        b.connect(latents[0], "LATENT", source, "latent_1")
        b.connect(latents[1], "LATENT", source, "latent_2")
        invert = b.add("DDIMInvertReference", 3, y, title=f"Invert ({name})", steps=50, cfg=1.0, scheduler="normal")
        b.connect(ckpt, "MODEL", invert, "model")
        b.connect(source, "LATENT", invert, "latent")
        b.connect(ref_prompt, "CONDITIONING", invert, "positive")
        patch = patch_model(b, ckpt, 4, y, invert, title=f"Patch ({name})", reference_weights=weights)
        prompts = batch_prompts(b, ckpt, 3, y + 300, invert, title=f"Prompts ({name})",
                                prompts="a painting\na cat\na bicycle\na mountain lake", style="", width=512,
                                height=512)
        sample_and_save(b, ckpt, patch, prompts, neg, prompts, 5, y, f"style_aligned/multiref_{name}")
        title = ("3. Weighted multi-reference attention (K = 2)" if method == "attention" else
                 f"{'12'[method == 'SLERP']}. {method} blend, inverted as one reference")
        row = b.nodes[first:]
        b.group(title, row, color)
        # the next pipeline's group starts 40 px below this one
        y = b.bottom(row) + 2 * GROUP_PAD + GROUP_TITLE + 40 + TITLE_HEIGHT
    b.note(
        "Several style references, three ways side by side (SD1.5, 512 px), same prompts and seed:\n"
        "1. Linear: Z-SAMB weighted sum of the two latents, then inverted as ONE reference. keep_norm avoids the "
        "washed-out look of plain averages.\n2. SLERP: weighted spherical blend (one angle over the whole latent), "
        "then inverted as one reference.\n3. Weighted multi-reference attention: Multi-Reference Blend with "
        f"'{KEEP_APART}' blends nothing, so both images are inverted together (K = 2 reference rows); every "
        "target attends to both with the patch's reference_weights (e.g. '0.7, 0.3').\n\n"
        "Weights are renormalised to sum 1. The first prompt line describes the references; the first K output "
        "images are the references themselves.", 0, b.bottom(shared) + 2 * GROUP_PAD + 40 + TITLE_HEIGHT,
        height=340)
    return b.ui()


def multimodal(specs):
    b = Builder(specs)
    ckpt = checkpoint(b, SDXL_CKPT)
    image = b.add("LoadImage", 0, 320, title="Content image", image="content.png")
    speech_audio = b.add("LoadAudio", 0, 700, title="Speech", audio="speech.wav")
    music_audio = b.add("LoadAudio", 0, 900, title="Music", audio="music.wav")
    # 45 words: the fusion's 55-word budget keeps room for each prompt line in front of the caption
    caption = b.add("MultimodalCaption", 1, 60, node_width=400, max_words=45, location="Paris,FR",
                    weather_on_error="empty result with note")
    b.connect(image, "IMAGE", caption, "image")
    b.connect(speech_audio, "AUDIO", caption, "speech_audio")
    b.connect(music_audio, "AUDIO", caption, "music_audio")
    fusion = b.add("StyleAlignedPromptFusionList", 2, 60, template="{prompt}, {caption}",
                   prompt="a lighthouse\na cat\na bicycle")
    b.connect(caption, "STRING", fusion, "caption")
    patch = patch_model(b, ckpt, 2, 420)
    prompts = batch_prompts(b, ckpt, 3, 60, prompts="", style=STYLE, width=1024, height=1024)
    b.connect(fusion, "STRING", prompts, "prompts")
    neg = negative_encoder(b, ckpt, 3, 520)
    sample_and_save(b, ckpt, patch, prompts, neg, prompts, 4, 60, "style_aligned/multimodal")
    b.note(
        "Multi-modal prompts (Z-SAMB, SDXL). Multimodal Caption turns a BLIP caption of an image, a Whisper "
        "transcript of speech, the CLAP mood and genre of music and the current weather at a place into one "
        "caption (its template {caption}, {transcript}, {weather}, {music}; leave out any source). Prompt "
        "Fusion (batch lines) puts it after each prompt line; line 1 is the style reference. max_words keeps "
        "each line inside CLIP's 77 tokens. The separate nodes (Image Caption, Speech Transcript, Music Mood, "
        "Weather Phrase) do the same one source at a time.\n\nWeather: set the environment variable "
        "OPENWEATHERMAP_API_KEY before starting ComfyUI (the key is never saved in the workflow); with no key "
        "the slot stays empty and the node says why; empty location = no weather. Load Audio is a stock node "
        "of current ComfyUI. Models (BLIP, Whisper, CLAP) download on first use or are picked from models/blip, "
        "models/whisper, models/clap.", 0, 1100, height=380)
    return b.ui()


def controlnet(specs):
    b = Builder(specs)
    ckpt = checkpoint(b, SD15_CKPT)
    cn = b.add("ControlNetLoader", 0, 320, control_net_name=DEPTH_CONTROLNET)
    image = b.add("LoadImage", 0, 460, title="Control image", image="control.png")
    depth = b.add("StyleAlignedDepthMap", 1, 460)
    b.connect(image, "IMAGE", depth, "images")
    preview = b.add("PreviewImage", 2, 700, title="Depth map")
    b.connect(depth, "IMAGE", preview, "images")
    canny = b.add("Canny", 1, 760, low_threshold=0.4, high_threshold=0.8)
    b.connect(image, "IMAGE", canny, "image")
    canny_preview = b.add("PreviewImage", 2, 1000, title="Canny edges (alternative hint)")
    b.connect(canny, "IMAGE", canny_preview, "images")
    patch = patch_model(b, ckpt, 1, 60)
    prompts = batch_prompts(b, ckpt, 2, 60, prompts="a house\na castle\na lighthouse\na robot",
                            style="watercolor painting", width=512, height=512)
    neg = negative_encoder(b, ckpt, 0, 1000)
    # Apply ControlNet (ControlNetApplyAdvanced; the one-conditioning ControlNetApply is deprecated upstream):
    # the control on the positive and the negative, the VAE left unconnected (SD1.5 ControlNets need none)
    apply = b.add("ControlNetApplyAdvanced", 2, 440, strength=0.8, start_percent=0.0, end_percent=1.0)
    b.connect(prompts, "CONDITIONING", apply, "positive")
    b.connect(neg, "CONDITIONING", apply, "negative")
    b.connect(cn, "CONTROL_NET", apply, "control_net")
    b.connect(depth, "IMAGE", apply, "image")
    sample_and_save(b, ckpt, patch, (apply, "positive"), (apply, "negative"), prompts, 3, 60,
                    "style_aligned/controlnet")
    b.note(
        "StyleAligned with ControlNet (SD1.5, 512 px). Depth Map (DPT) turns the control image into a depth hint "
        "for a depth ControlNet; Apply ControlNet shapes the TARGET images only: the patch keeps the control "
        "residual off the reference row (row 0), as in the original, so the reference stays a clean style "
        "source.\n\nFor edges instead of depth: load a canny ControlNet (e.g. control_v11p_sd15_canny_fp16) and "
        "connect the Canny node's IMAGE to Apply ControlNet's image. strength 0.6-1.0 works well.",
        3, 520, height=300)
    return b.ui()


def metrics(specs):
    b = Builder(specs)
    ckpt = checkpoint(b, SD15_CKPT)
    patch = patch_model(b, ckpt, 1, 60)
    prompts = batch_prompts(b, ckpt, 1, 520, prompts=PROMPTS, style=STYLE, width=512, height=512)
    neg = negative_encoder(b, ckpt, 0, 320)
    dec = sample_and_save(b, ckpt, patch, prompts, neg, prompts, 2, 60, "style_aligned/metrics_set", cfg=7.5)
    consistency = b.add("DinoSetConsistency", 4, 60)
    b.connect(dec, "IMAGE", consistency, "images")
    alignment = b.add("ClipTextAlignment", 4, 360, style=STYLE)
    b.connect(dec, "IMAGE", alignment, "images")
    b.connect(prompts, 2, alignment, "prompts")
    reference = b.add("ImageFromBatch", 3, 460, title="Reference (row 0)", batch_index=0, length=1)
    b.connect(dec, "IMAGE", reference, "image")
    targets = b.add("ImageFromBatch", 3, 620, title="Targets (rows 1..)", batch_index=1, length=3)
    b.connect(dec, "IMAGE", targets, "image")
    weighted = b.add("WeightedDinoScore", 4, 720)
    b.connect(targets, "IMAGE", weighted, "images")
    b.connect(reference, "IMAGE", weighted, "references")
    for i, (node, title) in enumerate(((consistency, "DINO set consistency"), (alignment, "CLIP text alignment"),
                                       (weighted, "Weighted DINO style score"))):
        preview = b.add("PreviewImage", 5, 60 + 340 * i, title=title)
        b.connect(node, "IMAGE", preview, "images")
    b.note(
        "Metrics of the StyleAligned paper on a generated set (SD1.5), with protocol = paper as the paper's "
        "table was made: DINO set consistency = mean pairwise cosine of DINO ViT-B/8 embeddings over every image, "
        "the reference included (higher = more consistent style); CLIP text alignment = CLIP ViT-B/32 cosine "
        "between each image and '<object>, <style>' (protocol = pack: the object alone, CLIP ViT-L/14); "
        "Weighted DINO style score (Z-SAMB) = similarity of the targets to the reference image(s). Each node "
        "shows a report and outputs a bar chart. The reference row is left out of the style score because it "
        "scores 1.0 against itself. Models (DINO, CLIP) download on first use or come from models/dino, "
        "models/clip.", 0, 560, height=320)
    return b.ui()


# ---------------------------------------------------------------- diffusion transformers

FLUX_FILES = dict(unet="flux1-dev.safetensors", clip_l="clip_l.safetensors", t5="t5xxl_fp16.safetensors",
                  vae="ae.safetensors")
QWEN_FILES = dict(unet="qwen_image_fp8_e4m3fn.safetensors", text="qwen_2.5_vl_7b_fp8_scaled.safetensors",
                  vae="qwen_image_vae.safetensors")
SD35_CKPT = "sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors"
def flux_loaders(b):
    """UNETLoader, DualCLIPLoader (CLIP-L + T5) and VAELoader of FLUX.1 dev, as the host's templates load them."""
    model = b.add("UNETLoader", 0, 60, unet_name=FLUX_FILES["unet"])
    clip = b.add("DualCLIPLoader", 0, 200, clip_name1=FLUX_FILES["clip_l"], clip_name2=FLUX_FILES["t5"], type="flux")
    vae = b.add("VAELoader", 0, 380, vae_name=FLUX_FILES["vae"])
    return model, clip, vae


def flux_prompts(specs):
    b = Builder(specs)
    model, clip, vae = flux_loaders(b)
    patch = patch_model(b, model, 1, 60, score_scale=1.1)
    prompts = batch_prompts(b, clip, 1, 560, prompts=PROMPTS, style=STYLE, width=1024, height=1024, guidance=3.5)
    neg = zero_negative(b, prompts, 2, 560)
    sample_and_save(b, vae, patch, prompts, neg, prompts, 2, 60, "style_aligned/flux_prompts", steps=20, cfg=1.0,
                    scheduler="simple")
    b.note(
        "StyleAligned on FLUX.1 dev, prompts only (1024 px). The FIRST prompt line is the reference; every other "
        "line takes its style. Flux dev is guidance-distilled: sample at cfg 1 and set the strength with "
        "'guidance' on Batch Prompts (3.5; a FluxGuidance node after it works too). For schnell, load "
        "flux1-schnell and sample 4 steps.\n\n" + DIT_NOTE + "\n\nPoint the loaders at your files (" +
        ", ".join(FLUX_FILES.values()) + ").", 0, 560, height=380)
    return b.ui()


def flux_reference_image(specs):
    b = Builder(specs)
    model, clip, vae = flux_loaders(b)
    # flow matching: Euler in sigma space is the inversion; cfg 1 as Flux dev samples
    invert = inverted_reference(b, model, clip, vae, 520, steps=28, cfg=1.0, scheduler="simple")
    patch = patch_model(b, model, 2, 60, invert, score_scale=1.1)
    prompts = batch_prompts(b, clip, 2, 560, invert, prompts=REFERENCE_PROMPTS, style="watercolor painting", width=1024,
                            height=1024, guidance=3.5)
    neg = zero_negative(b, prompts, 3, 560)
    sample_and_save(b, vae, patch, prompts, neg, prompts, 3, 60, "style_aligned/flux_reference", steps=28, cfg=1.0,
                    scheduler="simple")
    b.note(
        "StyleAligned on FLUX.1 dev from a reference IMAGE. Load Image -> scale -> VAE Encode -> DDIM Invert "
        "Reference (on a flow model this is the flow-matching inversion: Euler in sigma space) keeps the "
        "reference's trajectory; the patch puts row 0 back on it at every step, so row 0 of the output is your "
        "image and every other row takes its style. Describe the reference in 'Describe the reference' AND as "
        "the first prompt line. The batch takes the reference's size. Inversion and sampling at cfg 1 with the "
        "same scheduler and step count.\n\n" + DIT_NOTE, 4, 520, height=420)
    return b.ui()


def sd35_prompts(specs):
    b = Builder(specs)
    ckpt = checkpoint(b, SD35_CKPT)
    patch = patch_model(b, ckpt, 1, 60)
    prompts = batch_prompts(b, ckpt, 1, 520, prompts=PROMPTS, style=STYLE, width=1024, height=1024)
    neg = negative_encoder(b, ckpt, 0, 320)
    sample_and_save(b, ckpt, patch, prompts, neg, prompts, 2, 60, "style_aligned/sd35_prompts", steps=28, cfg=4.5,
                    scheduler="sgm_uniform")
    b.note(
        "StyleAligned on SD3.5 (medium with its text encoders in the checkpoint; large works the same with "
        "TripleCLIPLoader), prompts only, 1024 px. The FIRST prompt line is the reference. SD3 adds positions "
        "at the input, so reference_positions has no effect here.\n\n" + DIT_NOTE
        + f"\n\nPoint Load Checkpoint at your SD3.5 checkpoint ({SD35_CKPT} by default).", 0, 560, height=340)
    return b.ui()


def qwen_image_prompts(specs):
    b = Builder(specs)
    unet = b.add("UNETLoader", 0, 60, unet_name=QWEN_FILES["unet"])
    clip = b.add("CLIPLoader", 0, 200, clip_name=QWEN_FILES["text"], type="qwen_image")
    vae = b.add("VAELoader", 0, 380, vae_name=QWEN_FILES["vae"])
    shift = b.add("ModelSamplingAuraFlow", 1, 60, shift=3.1)
    b.connect(unet, "MODEL", shift, "model")
    patch = patch_model(b, shift, 1, 200)
    prompts = batch_prompts(b, clip, 1, 620, prompts=PROMPTS, style=STYLE, width=1328, height=1328)
    neg = negative_encoder(b, clip, 0, 520)
    sample_and_save(b, vae, patch, prompts, neg, prompts, 2, 60, "style_aligned/qwen_image_prompts", steps=20,
                    cfg=2.5, scheduler="simple")
    b.note(
        "StyleAligned on Qwen-Image, prompts only (1328 px, the model's native size), with the host template's "
        "sampling settings: ModelSamplingAuraFlow shift 3.1, cfg 2.5, 20 steps. The FIRST prompt line is the "
        "reference.\n\n" + DIT_NOTE + "\n\nPoint the loaders at your files (" + ", ".join(QWEN_FILES.values())
        + ").", 0, 660, height=360)
    return b.ui()


# File names are the template cards' titles in the frontend's Browse Templates dialog (it shows the name
# without .json and asks for `<name>.jpg` beside it as the card's picture); the number is the order from
# the simplest workflow to the most involved, which the dialog shows in the title even where the host
# lists the folder in another order.
DIT_WORKFLOWS = {
    "08 Flux prompts only.json": flux_prompts,
    "09 Flux reference image.json": flux_reference_image,
    "10 SD3.5 prompts only.json": sd35_prompts,
    "11 Qwen-Image prompts only.json": qwen_image_prompts,
}

WORKFLOWS = {
    "01 SD1.5 prompts only.json": lambda s: prompts_only(s, SD15_CKPT, 512, 30, 7.5, "style_aligned/sd15_prompts",
                                                         "SD1.5"),
    "02 SDXL prompts only.json": lambda s: prompts_only(s, SDXL_CKPT, 1024, 30, 7.0, "style_aligned/sdxl_prompts",
                                                        "SDXL"),
    "03 SDXL reference image.json": reference_image,
    "04 SD1.5 depth ControlNet.json": controlnet,
    "05 SD1.5 style metrics.json": metrics,
    "06 SD1.5 blend two styles.json": multi_reference,
    "07 SDXL multimodal prompts.json": multimodal,
    **DIT_WORKFLOWS,
}
WORKFLOWS.update(workflow_builders_nextdit.workflows(len(WORKFLOWS) + 1))  # Z-Image Turbo, Krea 2
WORKFLOWS.update(workflow_builders_edit_hunyuan.workflows(len(WORKFLOWS) + 1))  # Qwen-Edit 2511, HunyuanImage
WORKFLOWS.update(workflow_builders_flux2.workflows(len(WORKFLOWS) + 1))  # FLUX.2 Klein
WORKFLOWS.update(workflow_builders_wan.workflows(len(WORKFLOWS) + 1))  # Wan 2.2 clips, prompts and a reference clip
WORKFLOWS[f"{len(WORKFLOWS) + 1:02d} SDXL whole set one press.json"] = whole_set
WORKFLOWS.update(workflow_builders_flux2.later_workflows(len(WORKFLOWS) + 1))  # FLUX.2 Klein, custom sampling
# what a workflow needs of a host newer than v0.3.64 (a key of harness.host FEATURES): the tests skip it, saying so,
# on a host without it
NEWER_HOST = {workflow_builders_nextdit.z_image_turbo_prompts: "Z-Image",
              workflow_builders_nextdit.krea2_prompts: "Krea 2",
              workflow_builders_edit_hunyuan.qwen_edit_one_style: "Qwen-Image-Edit 2511",
              workflow_builders_flux2.flux2_klein_prompts: "FLUX.2 and LongCat-Image",
              workflow_builders_flux2.flux2_klein_whole_set: "FLUX.2 and LongCat-Image",
              # Wan 2.2 5B's 48-channel latents, fitted from Batch Prompts' empty clips by the host's samplers
              workflow_builders_wan.wan22_clips: "empty latents fitted by their downscale ratio",
              workflow_builders_wan.wan22_reference_clip: "empty latents fitted by their downscale ratio"}
NEEDS = {name: NEWER_HOST[builder] for name, builder in WORKFLOWS.items() if builder in NEWER_HOST}


def slug(name):
    """'01 SD1.5 prompts only.json' -> '01_sd15_prompts_only': for file names outside the template folder."""
    stem = name.removesuffix(".json").lower().replace(".", "").replace("-", "_")
    return "_".join(stem.split())


def main():
    """workflows/*.json from the node specs, then the sample inputs (example_inputs/) they name and the
    template cards' pictures (workflows/*.jpg) drawn from both."""
    import make_inputs
    import make_thumbnails

    specs = host_specs()
    OUT.mkdir(exist_ok=True)
    for stale in OUT.glob("*.json"):
        if stale.name not in WORKFLOWS:
            stale.unlink()
    for name, make in WORKFLOWS.items():
        (OUT / name).write_text(json.dumps(make(specs), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print("wrote", OUT / name)
    make_inputs.main([])
    make_thumbnails.main([])


if __name__ == "__main__":
    main()
