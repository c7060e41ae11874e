"""Numbers typed into text inputs, through the nodes in the real host: a layer range with thousands of digits,
reference weights at the ends of the float range."""

import pytest
import torch
from harness import host
from harness import tiny_models as tiny
from style_aligned.nodes.blend import MultiRefBlend
from style_aligned.nodes.patch import StyleAlignedPatchModel
from style_aligned.nodes.reference import DDIMInvertReference


@pytest.fixture(scope="module")
def model():
    return tiny.tiny_model("sd15")


@pytest.fixture(scope="module")
def two_references(model):
    latent = {"samples": torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))}
    return host.run_node(DDIMInvertReference, model=model, latent=latent, positive=tiny.conditioning("sd15", 1),
                         steps=2)[0]


@pytest.mark.parametrize("custom", ["input_" + "1" * 5000, "output_1-" + "9" * 5000])
def test_custom_layers_with_thousands_of_digits_names_the_input_and_the_blocks(model, custom):
    """It raised Python's own 'Exceeds the limit (4300 digits) for integer string conversion'."""
    with pytest.raises(ValueError, match=r"custom_layers: unknown block '.*… \(50\d\d characters\)'\. This model's "
                                         r"attention blocks are: input_1") as info:
        host.run_node(StyleAlignedPatchModel, model=model, layers="custom", custom_layers=custom)
    assert len(str(info.value)) < 300


def test_reference_weights_at_the_top_of_the_float_range_weigh_equally(model, two_references):
    """'1e308, 1e308' overflowed the sum and was refused as 'the weights sum to zero'."""
    from style_aligned.nodes import patch

    assert list(patch._reference_setup(model, two_references, "1e308, 1e308")[2]) == [0.5, 0.5]
    patched = host.run_node(StyleAlignedPatchModel, model=model, style_reference=two_references,
                            reference_weights="1e308, 1e308")[0]
    assert patched is not model


@pytest.mark.parametrize("weights", ["1e400, 1", "1" * 400 + ", 1"])
def test_reference_weights_beyond_the_float_range_name_the_input(model, two_references, weights):
    with pytest.raises(ValueError, match=r"reference_weights: '.*' is too large to be a number here \(it reads as "
                                         r"infinite\); weights are relative, so write small numbers") as info:
        host.run_node(StyleAlignedPatchModel, model=model, style_reference=two_references, reference_weights=weights)
    assert len(str(info.value)) < 300


def test_blend_weights_at_the_top_of_the_float_range_blend_equally():
    a, b = (torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(s)) for s in (1, 2))
    for method in ("Linear", "SLERP"):
        huge, plain = (host.run_node(MultiRefBlend, method=method, latent_1={"samples": a}, latent_2={"samples": b},
                                     weights=w)[0]["samples"] for w in ("1e308, 1e308", ""))
        assert torch.equal(huge, plain), method
    with pytest.raises(ValueError, match="weights: '1e999' is too large to be a number here"):
        host.run_node(MultiRefBlend, latent_1={"samples": a}, latent_2={"samples": b}, weights="1e999, 1")
