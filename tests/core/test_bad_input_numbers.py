"""Numbers typed into text inputs: a layer range with thousands of digits names custom_layers and the blocks."""

import pytest
from style_aligned.core.alignment.layers import select_layers

UNET = [("input", 1, 0), ("input", 2, 0), ("middle", 0, 0), ("output", 1, 0), ("output", 1, 1)]
DIT = [("single", n) for n in range(38)]


@pytest.mark.parametrize("text", ["input_" + "1" * 5000, "single_1-" + "9" * 5000, "output_1." + "0" * 4400,
                                  "single_" + "9" * 7])
def test_a_layer_number_with_thousands_of_digits_names_custom_layers(text):
    """It raised Python's own 'Exceeds the limit (4300 digits) for integer string conversion'."""
    layers = DIT if text.startswith("single") else UNET
    with pytest.raises(ValueError, match=r"custom_layers: unknown block '.*'\. This model's attention blocks are: "
                                         r"(input_1-2, middle_0, output_1|single_0-37)$") as info:
        select_layers(layers, "custom", custom=text)
    assert len(str(info.value)) < 300


def test_ordinary_ranges_still_select():
    chosen = select_layers(DIT, "custom", custom="single_10-12, single_000037")
    assert chosen == [("single", n) for n in (10, 11, 12, 37)]
    assert select_layers(UNET, "custom", custom="output_1.1") == [("output", 1, 1)]
