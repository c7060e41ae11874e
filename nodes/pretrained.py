"""Helper models (BLIP, Whisper, CLAP, DPT, DINO, CLIP) the way ComfyUI users expect: `models/<kind>`
folders registered with the host, a choice list (hub ids first, then local folders), and the model
under the host's own model management, as its CLIP vision loader does it.

A node that runs a helper model keeps the one it loaded (`HelperModelNode`): the executor keeps node
objects between runs and drops them with its node cache, so there is no cache of ours. Before each
use the model's ModelPatcher goes through `load_models_gpu`: on a GPU the host moves it in and out
around the diffusion model by its own accounting, and its "Unload models" frees it.
"""

import os

from ..core.common.pretrained import load_pretrained, resolve_source

MODEL_EXTENSIONS = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")
DOWNLOAD_NOTE = ("Pick a local model from models/{kind} or type a hub id; a missing hub model is downloaded "
                 "on first use (progress in the console). The node keeps it for the next run; ComfyUI moves it "
                 "on and off the GPU like its own models.")


def model_dirs(kind: str) -> list[str]:
    """Register `models/<kind>` with the host (idempotent) and return every folder for `kind`, ours first.

    Current upstream maps the legacy name "clip" to its "text_encoders" list (models/text_encoders,
    then models/clip); `models/<kind>` stays first so messages and downloads name the folder the
    README promises."""
    import folder_paths

    own = os.path.join(folder_paths.models_dir, kind)
    folder_paths.add_model_folder_path(kind, own)
    dirs = list(folder_paths.get_folder_paths(kind))
    return [own] + [d for d in dirs if os.path.normpath(d) != os.path.normpath(own)]


def _local_entries(directory: str, files: bool) -> list[str]:
    if not os.path.isdir(directory):
        return []
    entries = []
    for entry in sorted(os.listdir(directory)):
        if entry.startswith("."):
            continue
        path = os.path.join(directory, entry)
        if os.path.isdir(path) or (files and entry.lower().endswith(MODEL_EXTENSIONS)):
            entries.append(entry)
    return entries


def model_choices(kind: str, defaults: list[str], files: bool = False) -> list[str]:
    """Default hub ids first, then the model sub-folders found in the `kind` folders (and model files
    with `files`, for single-file checkpoints such as Whisper's: a transformers model is a folder, and
    the host's own single-file text encoders share models/clip and models/text_encoders with us)."""
    choices = list(defaults)
    for directory in model_dirs(kind):
        choices.extend(_local_entries(directory, files))
    return list(dict.fromkeys(choices))


class HelperModelNode:
    """Base of a node that runs a helper model; `helper_model` gives the model's bundle on the device."""

    _helper = None  # ((kind, name), ModelPatcher, bundle) of the model this node loaded last

    def helper_model(self, kind: str, name: str, load_fn, resolve=resolve_source):
        """`load_fn(source)`'s bundle (for example `(model, processor)`, or the model itself) for
        (kind, name): loaded once per node, then put on the device by the host before each use."""
        import comfy.model_management as mm
        import comfy.model_patcher
        import torch

        key = (kind, name.strip())
        if self._helper is None or self._helper[0] != key:  # a new choice replaces the old model
            bundle = load_pretrained(load_fn, name, model_dirs(kind), kind, resolve=resolve)
            # in a plain container: the host's ModelPatcher sets attributes (such as `device`) on the
            # module it manages, which a transformers model refuses
            holder = torch.nn.Module()
            holder.inner = bundle[0] if isinstance(bundle, tuple) else bundle
            patcher = comfy.model_patcher.ModelPatcher(holder, load_device=mm.get_torch_device(),
                                                       offload_device=mm.unet_offload_device())
            self._helper = (key, patcher, bundle)
        mm.load_models_gpu([self._helper[1]])
        return self._helper[2]


def model_inputs(kind: str, defaults: list[str]) -> dict:
    """A `model` list (hub ids first, then local models) and a free-text `hub_id` override."""
    return {
        "model": (model_choices(kind, defaults), {
            "default": defaults[0], "tooltip": DOWNLOAD_NOTE.format(kind=kind)}),
        "hub_id": ("STRING", {
            "default": "", "tooltip": f"Optional: a hub id (owner/name) or a folder name in models/{kind} that "
                                      "overrides the model list. Leave empty to use the list."}),
    }


def chosen(model: str, hub_id: str) -> str:
    return (hub_id or "").strip() or model
