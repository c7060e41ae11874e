"""The pack's sample inputs (example_inputs/: the images and sound clips its shipped workflows name)
copied into ComfyUI's input folder when the pack loads, so that every workflow opens and runs on a
fresh install. A file of the same name already there is never replaced: the copy is made only where
the name is free (created exclusively, so a file that appears meanwhile is not overwritten either).
Set STYLE_ALIGNED_NO_EXAMPLE_INPUTS=1 to copy nothing."""

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("style_aligned")

SOURCE = Path(__file__).resolve().parents[1] / "example_inputs"
SUFFIXES = (".png", ".wav")


def install(input_dir=None) -> list[str]:
    """Copy each sample input whose name is free in `input_dir` (default: the host's input folder);
    the names copied. Never raises: the pack loads whatever happens here."""
    if os.environ.get("STYLE_ALIGNED_NO_EXAMPLE_INPUTS") or not SOURCE.is_dir():
        return []
    try:
        if input_dir is None:
            import folder_paths

            input_dir = folder_paths.get_input_directory()
        target = Path(input_dir)
        target.mkdir(parents=True, exist_ok=True)
    except Exception as exc:  # noqa: BLE001  (no input folder: nothing to copy into)
        log.warning("style_aligned: sample inputs not copied: %s", exc)
        return []
    copied = []
    for source in sorted(SOURCE.iterdir()):
        if source.suffix not in SUFFIXES:
            continue
        try:
            with open(target / source.name, "xb") as out, open(source, "rb") as data:
                shutil.copyfileobj(data, out)
            copied.append(source.name)
        except FileExistsError:
            continue  # the user's file (or ours from an earlier start) stays as it is
        except OSError as exc:
            log.warning("style_aligned: sample input %s not copied: %s", source.name, exc)
    if copied:
        log.info("style_aligned: copied sample inputs into %s: %s", target, ", ".join(copied))
    return copied
