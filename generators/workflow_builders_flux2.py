"""Shipped workflows for FLUX.2 Klein, built with workflow_graph's pieces, loaded as the host's own FLUX.2 Klein
templates load it (diffusion model, Qwen3 text encoder of type flux2, the FLUX.2 VAE) and sampled as the distilled
model is: 4 steps at cfg 1, where the negative is never used. One with KSampler; one sampling a whole list in
one press with custom sampling (Flux2Scheduler's sigmas, as the host's templates). make_workflows registers
`workflows`."""

import workflow_graph as graph

FLUX2_KLEIN_FILES = dict(unet="flux-2-klein-4b.safetensors", text="qwen_3_4b.safetensors", vae="flux2-vae.safetensors")


def klein_prompts(b, prompts):
    """The loaders of FLUX.2 Klein, the patch and Batch Prompts of `prompts`: (vae, patch, prompts, negative)."""
    files = FLUX2_KLEIN_FILES
    unet = b.add("UNETLoader", 0, 60, unet_name=files["unet"])
    clip = b.add("CLIPLoader", 0, 200, clip_name=files["text"], type="flux2")
    vae = b.add("VAELoader", 0, 380, vae_name=files["vae"])
    patch = graph.patch_model(b, unet, 1, 60, score_scale=1.1)
    prompts = graph.batch_prompts(b, clip, 1, 560, prompts=prompts, style=graph.STYLE, width=1024, height=1024)
    return vae, patch, prompts, graph.zero_negative(b, prompts, 2, 560)


def flux2_klein_prompts(specs):
    files = FLUX2_KLEIN_FILES
    b = graph.Builder(specs)
    vae, patch, prompts, neg = klein_prompts(b, graph.PROMPTS)
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


SET_PROMPTS = "\n".join(["a house", "a cat", "a bicycle", "a mountain lake", "a lighthouse", "a teapot", "a fox",
                         "a sailing boat", "an owl"])


def flux2_klein_whole_set(specs):
    """FLUX.2 Klein, 9 prompts in windows of 4 targets, custom sampling (RandomNoise, KSamplerSelect,
    Flux2Scheduler) through Style Aligned Set Sampler (Custom): one press."""
    files = FLUX2_KLEIN_FILES
    b = graph.Builder(specs)
    vae, patch, prompts, neg = klein_prompts(b, SET_PROMPTS)
    noise = b.add("RandomNoise", 2, 60, noise_seed=42)
    select = b.add("KSamplerSelect", 2, 200, sampler_name="euler")
    sigmas = b.add("Flux2Scheduler", 2, 320, steps=4, width=1024, height=1024)
    sampler = b.add("StyleAlignedSetSamplerCustom", 3, 60, window_size=4, cfg=1.0)
    for src, output, input_name in ((patch, "MODEL", "model"), (prompts, "prompt_set", "prompt_set"),
                                    (neg, "CONDITIONING", "negative"), (noise, "NOISE", "noise"),
                                    (select, "SAMPLER", "sampler"), (sigmas, "SIGMAS", "sigmas")):
        b.connect(src, output, sampler, input_name)
    graph.decode_and_save(b, vae, sampler, 4, 60, "style_aligned/flux2_klein_whole_set")
    b.note(
        "A whole set in one press on FLUX.2 Klein 4B with custom sampling (the host's FLUX.2 templates sample "
        "with SamplerCustomAdvanced and Flux2Scheduler): Style Aligned Set Sampler (Custom) takes the same "
        "noise, sampler and sigmas a SamplerCustomAdvanced would, and the cfg of its guider (1 here: Klein is "
        "distilled, the negative is never used). It samples the prompt list in windows of the reference + "
        "window_size targets, one after another; each window keeps the reference row with the same noise, so "
        "the set shares one style, and each is bit for bit what SamplerCustomAdvanced gives for that window "
        "queued by hand. Peak memory is one window's; the progress bar counts windows x steps; Cancel and "
        "Queue again samples only the unfinished windows.\n\n" + graph.DIT_NOTE + "\n\nPoint the loaders at "
        "your files (" + ", ".join(files.values()) + ").", 0, 560, height=440)
    return b.ui()


def workflows(first_number):
    """{file name: builder}, numbered from `first_number` (after make_workflows' existing titles; the Browse
    Templates dialog orders the cards by the number). Titles keep the dialog's 28 characters."""
    return {f"{first_number:02d} FLUX.2 Klein prompts only.json": flux2_klein_prompts}


def later_workflows(first_number):
    """Those numbered after every other (the order of the cards follows the releases that added them)."""
    return {f"{first_number:02d} FLUX.2 Klein whole set.json": flux2_klein_whole_set}
