"""Find and load pretrained models from plain folders or a hub id (pure: no host import).

The host side (which folders, caching, memory) lives in `nodes/pretrained.py`. Remote code is
never trusted: callers pass `from_pretrained` functions without `trust_remote_code`.
"""

import os
import re

# owner/name as the Hugging Face hub spells repository ids
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def folder_name(name: str) -> str:
    """The local folder name for a model: hub ids keep their owner, joined with '--'."""
    return name.strip().replace("/", "--")


def is_hub_id(name: str) -> bool:
    return bool(_HUB_ID.match(name.strip())) and ".." not in name


def find_local(name: str, search_dirs: list[str]) -> str | None:
    """An existing path, or a folder/file called `name` (or `owner--name`) in a search dir."""
    name = name.strip()
    expanded = os.path.expanduser(name)
    if os.path.isabs(expanded) and os.path.exists(expanded):
        return expanded
    for directory in search_dirs:
        for candidate in dict.fromkeys((name, folder_name(name))):
            path = os.path.join(directory, candidate)
            if os.path.exists(path):
                return path
    return None


def resolve_source(name: str, search_dirs: list[str]) -> str:
    """Where to load `name` from: a local path if one exists, else the hub id itself.

    Raises ValueError when `name` is neither a local model nor an `owner/name` hub id.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("model name is empty: choose a model from the list or type a hub id such as owner/name")
    local = find_local(name, search_dirs)
    if local is not None:
        return local
    if is_hub_id(name):
        return name.strip()
    where = search_dirs[0] if search_dirs else "the models folder"
    raise ValueError(
        f"model '{name}' is neither a local model nor a hub id (owner/name): put its files in "
        f"{os.path.join(where, folder_name(name))}{os.sep} or type a hub id such as "
        "Salesforce/blip-image-captioning-base"
    )


def transformers_module(feature: str):
    """The transformers package, or a RuntimeError saying which feature needs it."""
    try:
        import transformers
    except ImportError as exc:
        raise RuntimeError(f"{feature} needs transformers: pip install 'transformers>=4.40'") from exc
    return transformers


def load_model_and_processor(source, feature: str, model_class: str, processor_class: str, **processor_options):
    """(model in eval mode, processor) from a local folder or hub id, both named by their
    transformers class (no remote code)."""
    tf = transformers_module(feature)
    model = getattr(tf, model_class).from_pretrained(source)
    processor = getattr(tf, processor_class).from_pretrained(source, **processor_options)
    return model.eval(), processor


def _load_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean 'files missing or unreachable' (hub errors are mostly OSError already)."""
    errors: list[type[BaseException]] = [OSError]
    try:
        from huggingface_hub import errors as hub_errors
    except ImportError:
        return tuple(errors)
    for attr in ("HfHubHTTPError", "LocalEntryNotFoundError", "RepositoryNotFoundError", "HFValidationError",
                 "OfflineModeIsEnabled"):
        cls = getattr(hub_errors, attr, None)
        if isinstance(cls, type):
            errors.append(cls)
    return tuple(errors)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_pretrained(load_fn, name: str, search_dirs: list[str], kind: str, resolve=resolve_source):
    """`load_fn(source)` with a message that says what to do when the files are not there.

    `resolve(name, search_dirs) -> source` may be replaced for model families that are not
    hub repositories (Whisper's named checkpoints).
    """
    source = resolve(name, search_dirs)
    if os.path.isdir(source) and not os.path.isfile(os.path.join(source, "config.json")):
        # an empty or foreign folder: transformers would fail with its own message about model types
        raise RuntimeError(f"could not load the {kind} model '{name}' from {source}: the folder has no config.json; "
                           "check that it holds a complete model (config and weights) or delete it to download "
                           "again")
    try:
        return load_fn(source)
    except _load_errors() as exc:
        if os.path.exists(source):
            raise RuntimeError(
                f"could not load the {kind} model '{name}' from {source}: {_short(exc)}; check that the "
                "folder holds a complete model (config and weights) or delete it to download again"
            ) from exc
        dirs = ", ".join(search_dirs) if search_dirs else "(no model folders)"
        first = search_dirs[0] if search_dirs else os.path.join("models", kind)
        raise RuntimeError(
            f"the {kind} model {name} was not found in {dirs} and could not be downloaded; put the files in "
            f"{os.path.join(first, folder_name(name))}{os.sep} or connect to the internet ({_short(exc, 160)})"
        ) from exc
