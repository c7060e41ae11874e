"""A style-aligned set as prompts: the first line is the reference, the rest are targets.

Long sets run as several batches ("windows") that all start with the reference row, so memory
stays constant and every batch shares the same reference (same prompt, same row-0 noise).
"""

import math

import torch

STYLE_SLOT = "{prompt}"
# Rows of different token lengths are repeated up to their least common multiple only while that
# stays within this many times the longest row (the host itself refuses to pad more than 4x).
REPEAT_LIMIT = 4


def parse_prompt_lines(text):
    """One prompt per non-empty line; an empty list is an error the user must fix."""
    prompts = [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        raise ValueError("prompts is empty: write one prompt per line; the first line is the style reference")
    return prompts


def apply_style(prompt, style):
    """`style` is appended (", <style>"), or used as a template when it contains {prompt}."""
    style = style.strip()
    if not style:
        return prompt
    if STYLE_SLOT in style:
        return style.replace(STYLE_SLOT, prompt)
    return f"{prompt}, {style}"


def window_rows(count, start=0, size=0):
    """Indices into the prompt list for one batch: 0 (the reference) then targets
    start+1 .. start+size (size 0 = all remaining targets)."""
    targets = count - 1
    if start < 0 or size < 0:
        raise ValueError(f"window_start and window_size must not be negative (got {start}, {size})")
    if targets and start >= targets:
        raise ValueError(f"window_start {start} is past the last target prompt: there are {targets} targets "
                         f"after the reference, so use 0..{targets - 1}")
    stop = targets if size == 0 else min(targets, start + size)
    return [0] + list(range(start + 1, stop + 1))


def batch_rows(count, start=0, size=0, refs=1):
    """(prompt index, noise index) of every row of one batch: K reference rows, all with the
    reference prompt (line 0), then the window's targets. Noise indices depend only on a row's
    place in the whole set, so every window of a long list reproduces the same images."""
    targets = window_rows(count, start, size)[1:]
    prompt_rows = [0] * refs + targets
    noise_rows = list(range(refs)) + [refs - 1 + j for j in targets]
    return prompt_rows, noise_rows


def common_length(lengths):
    """The token length every conditioning row is brought to, and whether rows are repeated to it.

    Repeating a row's tokens leaves cross-attention exactly as it was (the same keys repeated get the
    same weights), so the least common multiple is used while it stays within REPEAT_LIMIT times the
    longest row. Beyond that (four long prompts of 4..7 chunks give 420 chunks a row) the rows are
    brought to the longest length by padding."""
    longest = max(lengths)
    lcm = math.lcm(*lengths)
    return (lcm, True) if lcm <= REPEAT_LIMIT * longest else (longest, False)


def stack_rows(conds, encode_empty):
    """Stack per-prompt conditionings (1, T_i, C) into (B, T, C) with T from `common_length`.

    Padding appends the tokens of the empty prompt (`encode_empty()`, (1, T_e, C), called only when
    rows are padded), repeated and cut to fit:
    for CLIP encoders, whole empty 77-token chunks, the convention of other UIs. A padded prompt then
    also attends a little to empty-prompt tokens, which changes its image slightly; nothing else does."""
    length, repeat = common_length([c.shape[1] for c in conds])
    if repeat:
        return torch.cat([c.repeat(1, length // c.shape[1], 1) for c in conds])
    empty = encode_empty()
    rows = []
    for c in conds:
        missing = length - c.shape[1]
        filler = empty.to(c).repeat(1, math.ceil(missing / empty.shape[1]), 1)[:, :missing]
        rows.append(torch.cat([c, filler], dim=1))
    return torch.cat(rows)
