"""Reference images: DDIM inversion into a STYLE_REFERENCE, and saving/loading it.

Host glue only; the math lives in core/reference/ (inversion, trajectory). Inversion runs
through the host's own sampling path (CFGGuider + KSAMPLER with our sampler function), so the
host prepares the model, converts and encodes the conditioning (SDXL pooled output and size
conds included), applies `process_latent_in` and any model wrapper exactly as in generation.
The trajectory is therefore stored in the sampler's space: the `x` every k-diffusion sampler
carries, which is what a model wrapper sees as `input` at the same sigma.
"""

import contextlib
import os

import torch
from comfy_api.latest import io

from ..core.common.validation import require_finite, require_finite_number
from ..core.reference.inversion import invert
from ..core.reference.trajectory import LATENT_BOUND, Trajectory
from .families import family_for
from .model_family import (
    STYLE_REFERENCE,
    check_reference_for_model,
    frame_axis,
    latent_channels,
    latent_scale,
    model_family,
)
from .ui import ADVANCED, outputs, shown

CATEGORY = "style_aligned/reference"
FOLDER = "style_references"
EXTENSION = ".safetensors"


# ---------------------------------------------------------------- inversion


def inversion_sigmas(model, scheduler, steps):
    """The host's schedule for `scheduler`, ascending from 0 (the clean latent), duplicates dropped."""
    import comfy.samplers

    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), scheduler, steps)
    # Some schedulers repeat a sigma at low step counts; an inversion step of zero length is useless.
    sigmas = torch.unique(sigmas.detach().cpu().float())
    if float(sigmas[0]) != 0.0:
        sigmas = torch.cat([sigmas.new_zeros(1), sigmas])
    return sigmas


def _zeroed(conditioning):
    """An all-zero copy of a CONDITIONING (ConditioningZeroOut), for cfg > 1 without a negative."""
    out = []
    for tensor, extra in conditioning:
        extra = dict(extra)
        if isinstance(extra.get("pooled_output"), torch.Tensor):
            extra["pooled_output"] = torch.zeros_like(extra["pooled_output"])
        out.append([torch.zeros_like(tensor), extra])
    return out


def _check_rows(conditioning, refs, what):
    for tensor, _extra in conditioning:
        if tensor.shape[0] not in (1, refs):
            raise ValueError(f"{what}: has {tensor.shape[0]} prompt rows for {refs} reference images; "
                             "give one prompt for all, or one per reference image")


def invert_latent(model, samples, positive, negative, steps, cfg, scheduler, iterations=1, seed=0):
    """Invert the raw VAE latents `samples` (K, C, H, W), or a video model's clips (K, C, T, H, W), with the host's
    sampling path -> Trajectory."""
    import comfy.samplers
    import comfy.utils

    sigmas = inversion_sigmas(model, scheduler, steps)
    progress = comfy.utils.ProgressBar((len(sigmas) - 1) * iterations)
    result = {}
    model_sampling = model.get_model_object("model_sampling")

    def input_scale(sigma):
        """The network's input scaling at sigma (c_in): DDIM asks the next sigma with the same input."""
        return float(model_sampling.calculate_input(sigma.reshape(1).float(), torch.ones(1, 1)).flatten()[0])

    def sample_inversion(denoiser, x, sigmas, extra_args=None, callback=None, disable=None):
        """KSAMPLER sampler function: the host hands over x = process_latent_in(latent) at sigma 0."""
        extra_args = extra_args or {}
        s_in = x.new_ones([x.shape[0]])

        def denoise(x, sigma):
            denoised = denoiser(x, sigma * s_in, **extra_args)
            progress.update(1)
            return denoised

        result["trajectory"] = invert(denoise, x, sigmas, iterations=iterations, input_scale=input_scale)
        return x  # the host post-processes the return value; the trajectory is what we keep

    if frame_axis(model) and samples.ndim == 4:  # the model wants (K, C, 1, H, W); the trajectory keeps (K, C, H, W)
        samples = samples.unsqueeze(2)
        sample_images = sample_inversion

        def sample_inversion(denoiser, x, sigmas, extra_args=None, callback=None, disable=None):
            def denoise_frames(x, sigma, **kwargs):
                return denoiser(x.unsqueeze(2), sigma, **kwargs)[:, :, 0]

            return sample_images(denoise_frames, x[:, :, 0], sigmas, extra_args).unsqueeze(2)

    guider = comfy.samplers.CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    noise = torch.zeros_like(samples)  # x at sigma 0 is the clean latent: no noise is added
    with torch.no_grad():
        guider.sample(noise, samples, comfy.samplers.KSAMPLER(sample_inversion), sigmas, disable_pbar=True, seed=seed)
    trajectory = result["trajectory"]
    trajectory.metadata.update(
        model_family=model_family(model),
        latent_format=type(model.get_model_object("latent_format")).__name__,
        model_type=getattr(getattr(model.model, "model_type", None), "name", "unknown"),
        scheduler=scheduler, steps=str(steps), cfg=repr(float(cfg)),
    )
    return trajectory.to("cpu", torch.float32)


class DDIMInvertReference(io.ComfyNode):
    DETAILS = (  # on the help page
        "The trajectory runs from the clean latent up to pure noise. Inverting costs one model call per step "
        "and reference batch."
    )

    @classmethod
    def define_schema(cls):
        import comfy.samplers

        return io.Schema(
            node_id="DDIMInvertReference",
            display_name="DDIM Invert Reference",
            category=CATEGORY,
            description=(
                "Inverts one or several reference images (latents from VAE Encode) with deterministic DDIM "
                "inversion and keeps the whole trajectory. Feed the STYLE_REFERENCE to the Style Aligned patch so "
                "the reference stays itself at every step while the other images take its style."
            ),
            inputs=[
                io.Model.Input("model", tooltip="The model you will generate with (unpatched). The reference only "
                               "fits models of the same family."),
                io.Latent.Input("latent", tooltip="The reference image(s) encoded with VAE Encode. A batch of K "
                                "images gives K references, all of the target's size. A video model (Wan): a "
                                "clip's frames encoded with its VAE; the clips generated then take its frame "
                                "count."),
                io.Conditioning.Input("positive", tooltip="A prompt describing the reference image (one, or one "
                                      "row per reference)."),
                io.Int.Input("steps", default=50, min=1, max=1000, tooltip="Inversion steps. 50 as in the paper; "
                             "the patch interpolates, so generation may use another count."),
                io.Float.Input("cfg", default=1.0, min=0.0, max=30.0, step=0.1, round=0.01,
                               tooltip="Guidance during inversion. 1 (no guidance, one model call per step) or a "
                                       "small value such as 2; large values distort the trajectory."),
                io.Combo.Input("scheduler", options=list(comfy.samplers.KSampler.SCHEDULERS), default="normal",
                               tooltip="Noise schedule of the inversion. Use one that reaches the model's maximum "
                                       "noise (normal, karras, exponential, sgm_uniform) so any generation "
                                       "schedule fits.", **ADVANCED),
                io.Conditioning.Input("negative", optional=True, tooltip="Negative prompt, used only when cfg is "
                                      "not 1. If not connected, an all-zero conditioning is used."),
                io.Int.Input("refinement", optional=True, default=0, min=0, max=20, tooltip="Extra model calls per "
                             "step that refine each inversion step until Euler sampling with the same schedule "
                             "retraces it exactly (fixed-point inversion). 0 = plain DDIM inversion as in the "
                             "paper.", **ADVANCED),
            ],
            outputs=outputs((io.Custom(STYLE_REFERENCE), "style_reference", "The inverted trajectory of the "
                             "reference image(s), for the Style Aligned patch or Save Style Reference.")),
        )

    @classmethod
    def execute(cls, model, latent, positive, steps, cfg, scheduler, negative=None, refinement=0):
        samples = latent["samples"]
        if samples.ndim == 5 and samples.shape[2] == 1:  # one frame of a video-VAE latent (Qwen-Image's)
            samples = samples[:, :, 0]
        if samples.ndim == 5 and not _makes_video(model):
            raise ValueError(f"latent: expected an image latent (batch, C, H, W) or one frame (batch, C, 1, H, W), "
                             f"got a clip of {samples.shape[2]} latent frames, but this {model_family(model)} model "
                             "makes images; encode one image as the reference")
        if samples.ndim not in (4, 5):
            raise ValueError(f"latent: expected an image latent (batch, C, H, W), one frame (batch, C, 1, H, W) or "
                             f"a video model's clip (batch, C, frames, H, W), got shape {tuple(samples.shape)}")
        scale = latent_scale(model)
        if samples.shape[0] < 1 or scale * min(samples.shape[-2:]) < MIN_SIZE:
            raise ValueError(f"latent: shape {tuple(samples.shape)} is too small to invert; give at least one "
                             f"image of {MIN_SIZE}x{MIN_SIZE} pixels or more (VAE Encode of your reference)")
        channels = latent_channels(model)
        if samples.shape[1] != channels:
            raise ValueError(f"latent: has {samples.shape[1]} channels but this {model_family(model)} model uses "
                             f"{channels}; encode the reference with this model's VAE")
        if steps < 1:
            raise ValueError(f"steps: need at least 1, got {steps}")
        cfg = require_finite_number(cfg, "cfg")
        require_finite(samples, "latent", bound=LATENT_BOUND)
        import comfy.samplers

        if scheduler not in comfy.samplers.KSampler.SCHEDULERS:
            raise ValueError(f"scheduler: {scheduler!r} is not one of {list(comfy.samplers.KSampler.SCHEDULERS)}")
        if refinement < 0:
            raise ValueError(f"refinement: must be 0 or more, got {refinement}")
        refs = samples.shape[0]
        _check_rows(positive, refs, "positive")
        if negative is None:
            negative = _zeroed(positive)
        _check_rows(negative, refs, "negative")
        trajectory = invert_latent(model, samples, positive, negative, steps, cfg, scheduler,
                                   iterations=1 + refinement)
        return io.NodeOutput(trajectory)


def _makes_video(model):
    """True for a model whose family record says its latents are clips (a temporal scale: Wan)."""
    family = family_for(model_family(model))
    return bool(family is not None and family.temporal_scale)


# ---------------------------------------------------------------- save / load


def reference_dirs(register):
    """Folders holding style references: `models/style_references` plus any the user configured.

    Registering makes the host create the folder (the pip host does so eagerly), so listing for
    the widget does not register; saving and loading do.
    """
    import folder_paths

    default = os.path.join(folder_paths.models_dir, FOLDER)
    if FOLDER in folder_paths.folder_names_and_paths:
        return list(folder_paths.get_folder_paths(FOLDER))
    if register:
        folder_paths.add_model_folder_path(FOLDER, default)
        return list(folder_paths.get_folder_paths(FOLDER))
    return [default]


def reference_files():
    names = set()
    for folder in reference_dirs(register=False):
        if not os.path.isdir(folder):
            continue
        for root, _dirs, files in os.walk(folder, followlinks=True):
            for name in files:
                if name.lower().endswith(EXTENSION):
                    names.add(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return sorted(names)


def _inside(folder, relative):
    """Absolute path of `relative` inside `folder`, or None if it would escape the folder."""
    folder = os.path.abspath(folder)
    path = os.path.abspath(os.path.join(folder, relative))
    return path if os.path.commonpath([path, folder]) == folder else None


MIN_SIZE = 64  # pixels, the smallest size Style Aligned Batch Prompts offers
MAX_NAME = 255 - len("_00001.safetensors.partial")  # a file name's limit on common file systems


def next_free_name(folder, prefix):
    """`<prefix>_00001.safetensors`, the first counter not taken yet (as SaveImage numbers files)."""
    prefix = prefix.strip().replace("\\", "/")
    if "\0" in prefix or any(len(part) > MAX_NAME for part in prefix.split("/")):
        raise ValueError(f"filename_prefix: must not contain NUL characters or parts longer than {MAX_NAME} "
                         "characters (the file system's limit); use a short name such as 'watercolor'")
    if not prefix or prefix.startswith("/") or ".." in prefix.split("/") or _inside(folder, prefix) is None:
        raise ValueError(f"filename_prefix: {prefix!r} must be a relative name inside the {FOLDER} folder, "
                         "e.g. 'watercolor' or 'paintings/watercolor'")
    counter = 1
    while os.path.exists(os.path.join(folder, f"{prefix}_{counter:05}{EXTENSION}")):
        counter += 1
    return f"{prefix}_{counter:05}{EXTENSION}"


def save_reference(trajectory, path):
    from safetensors.torch import save_file

    tensors, metadata = trajectory.to_dict()
    partial = path + ".partial"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        save_file(tensors, partial, metadata=metadata)
        os.replace(partial, path)  # never leave a half-written reference under the final name
    except Exception as exc:  # OSError, or safetensors' own error type for the same I/O failures
        with contextlib.suppress(OSError):
            os.remove(partial)
        why = getattr(exc, "strerror", None) or exc
        raise ValueError(f"could not write {path} ({why}): make the {FOLDER} folder writable, or add a writable "
                         f"one for '{FOLDER}' in extra_model_paths.yaml") from None


def load_reference(path, what="reference"):
    """Read a style reference file: tensors and string metadata only, never pickle."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as handle:
            metadata = handle.metadata()
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise ValueError(f"{what}: {os.path.basename(path)} is not a readable safetensors file ({exc}); "
                         "choose a file saved by Save Style Reference") from None
    return Trajectory.from_dict(tensors, metadata, what=what)


class SaveStyleReference(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="SaveStyleReference",
            display_name="Save Style Reference",
            category=CATEGORY,
            description=(f"Saves a STYLE_REFERENCE as a safetensors file in models/{FOLDER}, so the style can be "
                         "reused in later sessions or on another machine without inverting again."),
            inputs=[
                io.Custom(STYLE_REFERENCE).Input("style_reference", tooltip="The inverted reference to save."),
                io.String.Input("filename_prefix", default="style", tooltip=f"File name inside models/{FOLDER}; a "
                                "counter and .safetensors are appended. May contain a sub-folder."),
            ],
            outputs=outputs((io.String, "filename", f"The saved file's name inside the {FOLDER} folder.")),
            is_output_node=True,
        )

    @classmethod
    def execute(cls, style_reference, filename_prefix):
        if not isinstance(style_reference, Trajectory):
            raise ValueError("style_reference: expected a STYLE_REFERENCE from DDIM Invert Reference")
        folder = reference_dirs(register=True)[0]
        name = next_free_name(folder, filename_prefix)
        save_reference(style_reference, os.path.join(folder, name))
        return shown((name,), [name])


class LoadStyleReference(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LoadStyleReference",
            display_name="Load Style Reference",
            category=CATEGORY,
            description=(f"Loads a STYLE_REFERENCE saved by Save Style Reference from models/{FOLDER}. Checks that "
                         "the file is a style reference and that it was made for the connected model's family."),
            inputs=[
                io.Model.Input("model", tooltip="The model you will generate with; the file must have been "
                               "inverted with a model of the same family."),
                io.Combo.Input("reference", options=reference_files(), tooltip=f"A .safetensors file in "
                               f"models/{FOLDER}."),
            ],
            outputs=outputs((io.Custom(STYLE_REFERENCE), "style_reference", "The saved trajectory, ready for the "
                             "Style Aligned patch.")),
        )

    @classmethod
    def fingerprint_inputs(cls, model, reference):
        path = cls.path_of(reference)
        if path is None:
            return ""
        stat = os.stat(path)
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    @staticmethod
    def path_of(reference):
        for folder in reference_dirs(register=True):
            path = _inside(folder, reference)
            if path is not None and os.path.isfile(path):
                return path
        return None

    @classmethod
    def execute(cls, model, reference):
        path = cls.path_of(reference)
        if path is None:
            raise ValueError(f"reference: {reference!r} not found in the {FOLDER} folder(s) "
                             f"{reference_dirs(register=True)}; save one with Save Style Reference")
        trajectory = load_reference(path, what=f"reference {reference!r}")
        check_reference_for_model(trajectory, model, what=f"reference {reference!r}")
        return io.NodeOutput(trajectory)


NODES = [DDIMInvertReference, SaveStyleReference, LoadStyleReference]
