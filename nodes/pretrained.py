"""Pretrained models the way ComfyUI users expect: `models/<kind>` folders registered with the
host, a choice list (hub ids first, then local folders), and a cache released when the host
frees memory.

Release hook: the host's "Free model and node cache" / "Unload models" action calls
`comfy.model_management.unload_all_models()` through the module attribute (old installable host
and current upstream alike), so we wrap that attribute once and clear our cache with it. We do
not observe `soft_empty_cache`: the host calls it after every prompt, which would defeat caching.
Between runs the cached models sit in RAM on the CPU; `on_device` moves one to the host's torch
device only while a node uses it, so VRAM stays free for the diffusion model.
"""

import contextlib
import functools
import logging
import os
import threading

from ..core.common.pretrained import load_pretrained, resolve_source

log = logging.getLogger("style_aligned")

MODEL_EXTENSIONS = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")
DOWNLOAD_NOTE = ("Pick a local model from models/{kind} or type a hub id; a missing hub model is downloaded "
                 "on first use (progress in the console) and cached in memory until the host frees models.")

_cache: dict = {}
_lock = threading.RLock()


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


def get_model(kind: str, name: str, load_fn, resolve=resolve_source):
    """The model `load_fn(source)` for (kind, name), loaded once and cached.

    `load_fn` gets a local path or a hub id and returns whatever bundle the caller needs
    (for example `(model, processor)`); use one bundle shape per kind.
    """
    _install_release_hook()
    key = (kind, name.strip() if isinstance(name, str) else name)
    with _lock:
        if key in _cache:
            return _cache[key]
        model = load_pretrained(load_fn, name, model_dirs(kind), kind, resolve=resolve)
        _cache[key] = model
        return model


def clear_cache() -> int:
    """Drop every cached model; returns how many were dropped."""
    with _lock:
        count = len(_cache)
        _cache.clear()
    if count:
        log.info("Style Aligned: released %d cached pretrained model(s)", count)
    return count


def cached_keys() -> list[tuple]:
    with _lock:
        return list(_cache)


def _install_release_hook() -> None:
    import comfy.model_management as mm

    original = mm.unload_all_models
    if getattr(original, "_style_aligned_release", False):
        return

    @functools.wraps(original)
    def unload_all_models(*args, **kwargs):
        clear_cache()
        return original(*args, **kwargs)

    unload_all_models._style_aligned_release = True
    mm.unload_all_models = unload_all_models


@contextlib.contextmanager
def on_device(module):
    """Run `module` on the host's torch device, then return it to the CPU."""
    import comfy.model_management as mm

    device = mm.get_torch_device()
    module.to(device)
    try:
        yield device
    finally:
        module.to("cpu")
        if device.type != "cpu":
            mm.soft_empty_cache()


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
