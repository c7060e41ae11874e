"""Helper models (BLIP, Whisper, CLAP, DPT, DINO, CLIP) the way ComfyUI users expect: `models/<kind>`
folders registered with the host, a choice list (hub ids first, then local folders), and the model
under the host's own model management, as its CLIP vision loader does it.

V3 nodes keep no state of their own (the host runs `execute` on a locked copy of the class), so the
models loaded live here: one per kind (`helper_model`), replaced when a node asks for another model of
that kind, so at most six are held whatever the workflow. Before each use the model's ModelPatcher
goes through `load_models_gpu`: on a GPU the host moves it in and out around the diffusion model by its
own accounting, and its "Unload models" frees it; `forget()` drops what is held here.
"""

import os

from comfy_api.latest import io

from ..core.common.pretrained import load_pretrained, resolve_source
from .ui import ADVANCED

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


_HELD = {}  # kind -> ((kind, name), source, ModelPatcher, bundle) of the model loaded last for that kind


def helper_model(kind: str, name: str, load_fn, resolve=resolve_source):
    """`load_fn(source)`'s bundle (for example `(model, processor)`, or the model itself) for (kind, name):
    loaded once and kept while nodes ask for this model of the kind (from the same place), then put on the
    device by the host before each use."""
    import comfy.model_management as mm
    import comfy.model_patcher
    import torch

    key, dirs = (kind, name.strip()), model_dirs(kind)
    source = resolve(name, dirs)  # where it would load from now: a folder added since is seen
    held = _HELD.get(kind)
    if held is None or held[:2] != (key, source):  # a new choice replaces the old model
        bundle = load_pretrained(load_fn, name, dirs, kind, resolve=resolve)
        # in a plain container: the host's ModelPatcher sets attributes (such as `device`) on the
        # module it manages, which a transformers model refuses
        holder = torch.nn.Module()
        holder.inner = bundle[0] if isinstance(bundle, tuple) else bundle
        patcher = comfy.model_patcher.ModelPatcher(holder, load_device=mm.get_torch_device(),
                                                   offload_device=mm.unet_offload_device())
        held = _HELD[kind] = (key, source, patcher, bundle)
    mm.load_models_gpu([held[2]])
    return held[3]


def loaded(kind: str):
    """((kind, name), ModelPatcher, bundle) of the `kind` model held, or None."""
    held = _HELD.get(kind)
    return None if held is None else (held[0], held[2], held[3])


def forget(kind: str | None = None) -> None:
    """Drop the model held for `kind` (every kind by default); the next use loads it again."""
    if kind is None:
        _HELD.clear()
    else:
        _HELD.pop(kind, None)


def model_inputs(kind: str, defaults: list[str]) -> list:
    """A `model` list (hub ids first, then local models) and a free-text `hub_id` override (advanced)."""
    return [
        io.Combo.Input("model", options=model_choices(kind, defaults), default=defaults[0],
                       tooltip=DOWNLOAD_NOTE.format(kind=kind)),
        io.String.Input("hub_id", default="", tooltip=f"Optional: a hub id (owner/name) or a folder name in "
                        f"models/{kind} that overrides the model list. Leave empty to use the list.", **ADVANCED),
    ]


def chosen(model: str, hub_id: str) -> str:
    return (hub_id or "").strip() or model
