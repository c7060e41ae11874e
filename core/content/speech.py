"""Speech to text with openai-whisper on host AUDIO, without ffmpeg.

Checkpoints are loaded safely: whisper's own `load_model` unpickles with `torch.load` in full;
we read the same `.pt` layout ({"dims", "model_state_dict"}) with `weights_only=True` and build
`whisper.model.Whisper(ModelDimensions(**dims))` ourselves. Official names ("small", "base.en",
...) are downloaded by whisper's own downloader (SHA-256 checked, tqdm progress in the console).
"""

import os

import torch

from . import audio as audio_ops

WHISPER_DEFAULT = "small"
SAMPLE_RATE = 16000  # whisper.audio.SAMPLE_RATE
TASKS = ("transcribe", "translate")


def whisper_module():
    try:
        import whisper
    except ImportError as exc:
        raise RuntimeError("speech transcripts need openai-whisper: pip install openai-whisper") from exc
    return whisper


_FALLBACK_NAMES = ("tiny", "base", "small", "medium", "large-v3", "turbo")


def official_names() -> list[str]:
    """Whisper's downloadable model names (a short fixed list when whisper is not installed,
    so the node still lists; using it then asks for the install)."""
    try:
        import whisper
    except ImportError:
        return list(_FALLBACK_NAMES)
    return list(whisper._MODELS)


def languages() -> dict[str, str]:
    """Code -> name of the languages Whisper knows."""
    try:
        from whisper.tokenizer import LANGUAGES
    except ImportError:
        return {"en": "english"}
    return dict(LANGUAGES)


def _checkpoint_in(folder: str) -> str | None:
    files = sorted(f for f in os.listdir(folder) if f.endswith((".pt", ".pth")))
    return os.path.join(folder, files[0]) if files else None


def resolve_whisper(name: str, search_dirs: list[str]) -> str:
    """A local checkpoint (path, `<dir>/<name>.pt`, or a `<dir>/<name>/` folder holding one .pt),
    else an official model name to download; ValueError otherwise."""
    name = (name or "").strip()
    if not name:
        raise ValueError("whisper model is empty: choose one such as 'small'")
    candidates = [os.path.expanduser(name)] if os.path.isabs(os.path.expanduser(name)) else []
    for directory in search_dirs:
        candidates += [os.path.join(directory, name), os.path.join(directory, name + ".pt")]
    for path in candidates:
        if os.path.isfile(path):
            return path
        if os.path.isdir(path) and (checkpoint := _checkpoint_in(path)):
            return checkpoint
    if name in official_names():
        return name
    where = search_dirs[0] if search_dirs else "models/whisper"
    raise ValueError(f"whisper model '{name}' is not an official name ({', '.join(official_names())}) and no "
                     f"checkpoint was found; put a .pt file at {os.path.join(where, name + '.pt')}")


def load_checkpoint(path: str):
    """A Whisper model from a `.pt` checkpoint, unpickling tensors and plain types only."""
    whisper = whisper_module()
    from whisper.model import ModelDimensions, Whisper

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        dims = ModelDimensions(**checkpoint["dims"])
        state = checkpoint["model_state_dict"]
    except (KeyError, TypeError) as exc:
        raise OSError(f"{path} is not a Whisper checkpoint (needs 'dims' and 'model_state_dict')") from exc
    except Exception as exc:  # an unsafe pickle lands here: never fall back to full unpickling
        raise OSError(f"{path} could not be read safely ({type(exc).__name__}); use an official Whisper .pt") from exc
    model = Whisper(dims)
    model.load_state_dict(state)
    name = os.path.splitext(os.path.basename(path))[0]
    if name in getattr(whisper, "_ALIGNMENT_HEADS", {}):  # word timestamps need them; harmless otherwise
        model.set_alignment_heads(whisper._ALIGNMENT_HEADS[name])
    return model.eval()


def make_loader(download_dir: str):
    """load_fn(source) for `load_pretrained`: a checkpoint path, or an official name to download."""

    def load(source: str):
        if os.path.exists(source):
            return load_checkpoint(source)
        whisper = whisper_module()
        os.makedirs(download_dir, exist_ok=True)
        path = whisper._download(whisper._MODELS[source], download_dir, False)
        return load_checkpoint(path)

    return load


def transcribe(model, clip: torch.Tensor, language: str = "auto", task: str = "transcribe",
               sample_len: int | None = None) -> tuple[str, str]:
    """(text, note) for one mono 16 kHz clip. Silent or empty audio gives ("", note)."""
    whisper = whisper_module()
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got '{task}'")
    if clip.numel() == 0:
        return "", "audio is empty (zero samples): nothing to transcribe"
    if audio_ops.is_silent(clip):
        return "", "audio is silent: nothing to transcribe"
    lang = None if language in ("", "auto", None) else language
    if lang is not None and lang not in languages():
        raise ValueError(f"language '{language}' is not a Whisper language code; use 'auto' or e.g. 'en', 'fr'")
    if not model.is_multilingual and (task == "translate" or lang not in (None, "en")):
        raise ValueError("this Whisper model is English-only (.en): use language 'auto' or 'en' and task transcribe")
    device = next(model.parameters()).device
    options = {"sample_len": sample_len} if sample_len else {}
    result = whisper.transcribe(
        model, clip.float().to(device), language=lang, task=task, fp16=device.type == "cuda",
        temperature=0.0, condition_on_previous_text=False, verbose=None, **options,
    )
    text = " ".join(result.get("text", "").split())
    note = f"language: {result.get('language', lang)}"
    return text, note


def transcribe_audio(model, audio, language="auto", task="transcribe", sample_len=None, progress=None):
    """([text per batch item], [note per item]) for a host AUDIO dict at any rate/channels."""
    clips = audio_ops.mono_at(audio, SAMPLE_RATE)
    texts, notes = [], []
    for i, clip in enumerate(clips):
        text, note = transcribe(model, clip, language, task, sample_len)
        texts.append(text)
        notes.append(note)
        if progress is not None:
            progress(i + 1, len(clips))
    return texts, notes
