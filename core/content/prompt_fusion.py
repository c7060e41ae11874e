"""Fuse multi-modal content into prompt text through a template with named slots.

Slots are `{prompt}`, `{caption}`, `{transcript}`, `{weather}`, `{music}`. We substitute with a
regex instead of `str.format` so user text can hold braces and a template cannot reach
attributes (`{prompt.__class__}`). Empty slots vanish together with the separator around them.

Length: CLIP reads 77 tokens (75 after BOS/EOS); English averages about 1.3 tokens per word, so
the default budget is 55 words. The limit is word-based on purpose (no tokenizer needed here,
works for every text encoder); the longest source (usually the transcript) is cut first and a
note says so. ComfyUI would otherwise encode extra 77-token windows, which dilutes the prompt.
"""

import re

SLOTS = ("prompt", "caption", "transcript", "weather", "music")
DEFAULT_TEMPLATE = "{prompt}, {caption}, {transcript}, {weather}, {music}"
DEFAULT_MAX_WORDS = 55
_SLOT = re.compile(r"\{(\w*)\}")
_SEPARATORS = r"[,;:|]"


def template_slots(template: str) -> list[str]:
    """Slots the template uses; ValueError names any unknown slot."""
    used = _SLOT.findall(template or "")
    unknown = sorted({s for s in used if s not in SLOTS})
    if unknown:
        raise ValueError(f"template has unknown slot(s) {', '.join('{' + s + '}' for s in unknown)}; "
                         f"use {', '.join('{' + s + '}' for s in SLOTS)}")
    return used


def one_line(text) -> str:
    return " ".join(str(text or "").split())


def _tidy(text: str) -> str:
    """Remove separators left dangling by empty slots: ', , x,' -> 'x'."""
    text = re.sub(rf"\s*({_SEPARATORS})(\s*{_SEPARATORS})+", r"\1", text)
    text = re.sub(rf"^\s*{_SEPARATORS}\s*|\s*{_SEPARATORS}\s*$", "", text)
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    return " ".join(text.split())


def _fill(template: str, values: dict) -> str:
    return _tidy(_SLOT.sub(lambda m: values.get(m.group(1), ""), template))


def _words(text: str) -> int:
    return len(text.split())


def fuse(template: str, sources: dict, max_words: int = DEFAULT_MAX_WORDS) -> tuple[str, list[str]]:
    """(prompt text, notes) for one image. `sources` maps slot names to text (missing = empty)."""
    if not (template or "").strip():
        template = DEFAULT_TEMPLATE
    used = template_slots(template)
    values = {slot: one_line(sources.get(slot, "")) for slot in SLOTS}
    notes = [f"{{{slot}}} is empty" for slot in dict.fromkeys(used) if not values[slot]]
    text = _fill(template, values)
    if max_words and _words(text) > max_words:
        text = _truncate(template, values, max_words, notes)
    if not text:
        notes.append("every slot is empty: the prompt is empty")
    return text, notes


def _truncate(template: str, values: dict, max_words: int, notes: list[str]) -> str:
    """Cut the longest slot values (word-based) until the fused text fits `max_words`."""
    values = dict(values)
    while True:
        text = _fill(template, values)
        excess = _words(text) - max_words
        if excess <= 0:
            return text
        slot = max(values, key=lambda s: _words(values[s]) if "{" + s + "}" in template else -1)
        words = values[slot].split()
        if not words or "{" + slot + "}" not in template:  # only template text is left: cut it
            notes.append(f"template alone is longer than {max_words} words; cut to fit")
            return " ".join(text.split()[:max_words])
        keep = max(0, len(words) - excess)
        values[slot] = " ".join(words[:keep])
        notes.append(f"{{{slot}}} cut from {len(words)} to {keep} words so the prompt fits about "
                     f"{max_words} words (CLIP reads 77 tokens)")


def as_lines(value) -> list[str]:
    """A per-image source: a list, or a string with one line per image."""
    if isinstance(value, (list, tuple)):
        return [one_line(v) for v in value]
    return [one_line(line) for line in str(value or "").splitlines() if line.strip()]


def fuse_lines(template: str, prompts, sources: dict, max_words: int = DEFAULT_MAX_WORDS,
               per_image: tuple[str, ...] = ("prompt", "caption")) -> tuple[list[str], list[str]]:
    """One prompt line per batch image (line 0 is the style reference).

    Slots in `per_image` take their i-th line for image i; the others are shared by every
    image. The number of images is the longest per-image list; a shorter list repeats its last
    line (a single prompt line applies to every caption).
    """
    columns = {"prompt": as_lines(prompts)}
    for slot in per_image:
        if slot != "prompt":
            columns[slot] = as_lines(sources.get(slot, ""))
    count = max((len(c) for c in columns.values()), default=0)
    if count == 0:
        return [], ["no prompt lines and no per-image sources: nothing to fuse"]
    lines, notes = [], []
    for i in range(count):  # fuse() puts every value on one line
        row = {**sources, **{slot: col[min(i, len(col) - 1)] if col else "" for slot, col in columns.items()}}
        text, row_notes = fuse(template, row, max_words)
        lines.append(text)
        notes.extend(f"line {i + 1}: {n}" for n in row_notes)
    return lines, notes
