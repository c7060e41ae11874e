"""Which attention layers share: the family's default ("auto"), all, an evenly spread fraction, a
family preset (InstantStyle's style block on UNets; single- or double-stream blocks on Flux), or a
custom list.

UNet layers are the host's patch keys `(block, number, transformer_index)`, e.g. `("output", 1, 0)`;
users write `output_1` (all transformers of that block) or `output_1.0` (one transformer). DiT layers
are `(kind, number)`, e.g. `("single", 10)`; users write `single_10`, or a range `single_10-37`.
"""

import re

from ..common.validation import echoed

LAYER_MODES = ["auto", "all", "fraction", "style blocks", "single-stream blocks", "double-stream blocks", "custom"]
_BLOCKS = ("input", "middle", "output")


def find_self_attention_layers(unet):
    """Self-attention layers of a UNet in execution order, and the output blocks grouped by level.

    Duck-typed on the module tree (blocks holding `transformer_blocks`, levels ending in an
    `Upsample`), so it reads any SD1.x/SD2/SDXL-style UNet without importing the host.
    """
    layers = []
    blocks = (("input", unet.input_blocks), ("middle", [unet.middle_block]), ("output", unet.output_blocks))
    for block, modules in blocks:
        for number, module in enumerate(modules):
            for sub in module.modules():
                if hasattr(sub, "transformer_blocks"):
                    layers += [(block, number, index) for index in range(len(sub.transformer_blocks))]
    levels, level = [], []
    for number, module in enumerate(unet.output_blocks):
        level.append(number)
        if any(type(sub).__name__ == "Upsample" for sub in module.modules()):
            levels.append(level)
            level = []
    if level:
        levels.append(level)
    return layers, levels


def evenly_spread(count, fraction):
    """Indices of round(count * fraction) items spread evenly over `count` (1 keeps all)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"share_fraction must be between 0 and 1, got {fraction}")
    return [i for i in range(count) if int((i + 1) * fraction + 1e-9) > int(i * fraction + 1e-9)]


def style_blocks(layers, output_levels):
    """InstantStyle's style block: the middle attention block of the deepest up level that has
    attention. SDXL: ("output", 1) (diffusers up_blocks.0.attentions.1); SD1.5: ("output", 4)."""
    with_attention = {number for block, number, _ in layers if block == "output"}
    for level in output_levels:
        attended = [number for number in level if number in with_attention]
        if attended:
            chosen = attended[len(attended) // 2]
            return [key for key in layers if key[:2] == ("output", chosen)]
    return []


def parse_custom_layers(text, layers):
    """`input_4, output_1.0` or `single_10-37, double_5` -> the matching layer keys; unknown names raise
    ValueError listing this model's names."""
    names = [n for n in re.split(r"[\s,;]+", text.strip()) if n]
    if not names:
        raise ValueError(f"custom_layers is empty: list blocks such as {', '.join(layer_names(layers)[:2])}")
    chosen = []
    for name in names:
        found = _matching(name, layers)
        if not found:
            raise ValueError(f"custom_layers: unknown block '{echoed(name)}'. This model's attention blocks are: "
                             f"{_compact(layer_names(layers))}")
        chosen += [k for k in found if k not in chosen]
    return chosen


_MAX_DIGITS = 6  # no model has a millionth block; longer numbers match nothing (and int() refuses 4300+ digits)


def _matching(name, layers):
    digits = rf"(\d{{1,{_MAX_DIGITS}}})"
    match = re.fullmatch(rf"([a-z]+)_{digits}(?:-{digits})?(?:\.{digits})?", name)
    if not match:
        return []
    block, first, last, index = match.group(1), int(match.group(2)), match.group(3), match.group(4)
    numbers = range(first, (first if last is None else int(last)) + 1)
    return [k for k in layers if k[0] == block and k[1] in numbers and (index is None or k[2:] == (int(index),))]


def _compact(names):
    """`single_0, single_1, ... single_37` as `single_0-37`: a long DiT list stays readable."""
    runs = []
    for name in names:
        block, _, number = name.rpartition("_")
        if runs and runs[-1][0] == block and runs[-1][2] == int(number) - 1:
            runs[-1][2] = int(number)
        else:
            runs.append([block, int(number), int(number)])
    return ", ".join(f"{b}_{a}" if a == z else f"{b}_{a}-{z}" for b, a, z in runs)


def layer_names(layers):
    """Block names users can type (`output_1`, `single_3`), in order, without duplicates."""
    names = []
    for key in layers:
        name = f"{key[0]}_{key[1]}"
        if name not in names:
            names.append(name)
    return names


def select_layers(layers, mode="auto", fraction=1.0, custom="", presets=None):
    """The layers that share. `presets` maps this family's named modes ("auto" and e.g. "style blocks")
    to their layers; "all", "fraction" and "custom" work for every family."""
    presets = presets or {"auto": list(layers)}
    if mode in presets:
        return list(presets[mode])
    if mode == "all":
        return list(layers)
    if mode == "fraction":
        return [layers[i] for i in evenly_spread(len(layers), fraction)]
    if mode == "custom":
        return parse_custom_layers(custom, layers)
    valid = list(presets) + ["all", "fraction", "custom"]
    raise ValueError(f"layers: '{mode}' does not apply to this model; choose one of {', '.join(valid)}")
