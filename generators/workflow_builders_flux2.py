"""Shipped workflow for FLUX.2 Klein, built with workflow_graph's pieces, loaded as the host's own FLUX.2 Klein
templates load it (diffusion model, Qwen3 text encoder of type flux2, the FLUX.2 VAE) and sampled as the distilled
model is: 4 steps at cfg 1, where the negative is never used. make_workflows registers `workflows`."""

import workflow_graph as graph

FLUX2_KLEIN_FILES = dict(unet="flux-2-klein-4b.safetensors", text="qwen_3_4b.safetensors", vae="flux2-vae.safetensors")


def flux2_klein_prompts(specs):
    files = FLUX2_KLEIN_FILES
    b = graph.Builder(specs)
    unet = b.add("UNETLoader", 0, 60, unet_name=files["unet"])
    clip = b.add("CLIPLoader", 0, 200, clip_name=files["text"], type="flux2")
    vae = b.add("VAELoader", 0, 380, vae_name=files["vae"])
    patch = graph.patch_model(b, unet, 1, 60, score_scale=1.1)
    prompts = graph.batch_prompts(b, clip, 1, 560, prompts=graph.PROMPTS, style=graph.STYLE, width=1024, height=1024)
    neg = graph.zero_negative(b, prompts, 2, 560)
    graph.sample_and_save(b, vae, patch, prompts, neg, prompts, 2, 60, "style_aligned/flux2_klein_prompts", steps=4,
                       cfg=1.0, scheduler="simple")
    b.note(
        "StyleAligned on FLUX.2 Klein 4B (distilled), prompts only (1024 px): 4 steps at cfg 1 (Klein is distilled "
        "and has no guidance embedding: the negative is never used and 'guidance' on Batch Prompts does nothing). "
        "The FIRST prompt line is the reference; every other line takes its style. Batch Prompts makes FLUX.2's "
        "128-channel latent at 1/16 of the size in pixels. layers = auto: the single-stream blocks (AlignedGen); "
        "reference_positions = shift (ShiftPE) places the reference one image width beside each target on "
        "FLUX.2's column axis, so the style carries over without the layout. For Klein 9B load its files and "
        "qwen_3_8b; for the base (undistilled) Klein or FLUX.2 dev (Mistral text encoder, guidance 4 on Batch "
        "Prompts) sample more steps; the host's templates use Flux2Scheduler with SamplerCustomAdvanced for the "
        "same schedule per resolution.\n\n" + graph.DIT_NOTE + "\n\nPoint the loaders at your files ("
        + ", ".join(files.values()) + ").", 0, 560, height=440)
    return b.ui()


def workflows(first_number):
    """{file name: builder}, numbered from `first_number` (after make_workflows' existing titles; the Browse
    Templates dialog orders the cards by the number). Titles keep the dialog's 28 characters."""
    return {f"{first_number:02d} FLUX.2 Klein prompts only.json": flux2_klein_prompts}
