import pytest
import torch
from style_aligned.core.common.weights import normalise_weights, parse_weights


def test_parse_and_renormalise():
    assert parse_weights(" 3, 1 ;") == [3.0, 1.0]
    assert parse_weights("  ") is None
    torch.testing.assert_close(normalise_weights([3.0, 1.0], 2), torch.tensor([0.75, 0.25], dtype=torch.float64))
    torch.testing.assert_close(normalise_weights(None, 4), torch.full((4,), 0.25, dtype=torch.float64))


@pytest.mark.parametrize("weights,message", [
    ([1.0], "1 weight\\(s\\) given for 2 reference"),
    ([1.0, float("nan")], "NaN or infinite"),
    ([1.0, -1.0], "negative"),
    ([0.0, 0.0], "the weights sum to zero"),
])
def test_bad_weights_name_the_input(weights, message):
    with pytest.raises(ValueError, match="reference_weights: " + message):
        normalise_weights(weights, 2, name="reference_weights")


def test_unparseable_weight_names_the_input():
    with pytest.raises(ValueError, match="reference_weights: 'a' is not a number"):
        parse_weights("0.5, a", name="reference_weights")


def test_no_references_is_a_clear_error():
    with pytest.raises(ValueError, match="weights: there are no references"):
        normalise_weights(None, 0)
