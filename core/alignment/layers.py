"""Which self-attention layers share: all, an evenly spread fraction, InstantStyle's style
block, or a custom list. Layers are named by the host's patch keys
`(block, number, transformer_index)`, e.g. `("output", 1, 0)`; users write `output_1` (all
transformers of that block) or `output_1.0` (one transformer)."""

import re

LAYER_MODES = ["all", "fraction", "style blocks", "custom"]
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
    """`input_4, output_1.0` -> the matching layer keys; unknown names raise ValueError."""
    names = [n for n in re.split(r"[\s,;]+", text.strip()) if n]
    if not names:
        raise ValueError("custom_layers is empty: list blocks such as 'output_1' or 'input_4,output_1.0'")
    chosen = []
    for name in names:
        match = re.fullmatch(r"(input|middle|output)_(\d+)(?:\.(\d+))?", name)
        found = []
        if match:
            block, number, index = match.group(1), int(match.group(2)), match.group(3)
            found = [k for k in layers if k[:2] == (block, number) and (index is None or k[2] == int(index))]
        if not found:
            raise ValueError(f"custom_layers: unknown block '{name}'. This model's self-attention blocks are: "
                             f"{', '.join(layer_names(layers))}")
        chosen += [k for k in found if k not in chosen]
    return chosen


def layer_names(layers):
    """Block names users can type (`output_1`), in order, without duplicates."""
    names = []
    for block, number, _ in layers:
        name = f"{block}_{number}"
        if name not in names:
            names.append(name)
    return names


def select_layers(layers, output_levels, mode="all", fraction=1.0, custom=""):
    if mode == "all":
        return list(layers)
    if mode == "fraction":
        return [layers[i] for i in evenly_spread(len(layers), fraction)]
    if mode == "style blocks":
        return style_blocks(layers, output_levels)
    if mode == "custom":
        return parse_custom_layers(custom, layers)
    raise ValueError(f"layers must be one of {LAYER_MODES}, got '{mode}'")
