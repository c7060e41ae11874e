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


@pytest.mark.parametrize("weights", [[1e308, 1e308], [1e-320, 1e-320], [3e307, 1e307]])
def test_weights_at_the_ends_of_the_float_range_are_relative_like_any_others(weights):
    """'1e308, 1e308' overflowed the sum and was reported as summing to zero."""
    expected = torch.tensor([0.5, 0.5] if weights[0] == weights[1] else [0.75, 0.25], dtype=torch.float64)
    torch.testing.assert_close(normalise_weights(weights, 2, name="reference_weights"), expected)
    torch.testing.assert_close(normalise_weights(parse_weights(", ".join(map(repr, weights))), 2), expected)


@pytest.mark.parametrize("text", ["1e400, 1", "0.5, -1e309", "1" * 5000 + ", 1"])
def test_a_weight_beyond_the_float_range_names_the_input_and_the_fix(text):
    with pytest.raises(ValueError, match=r"reference_weights: '.*' is too large to be a number here \(it reads as "
                                         r"infinite\); weights are relative, so write small numbers such as "
                                         r"'0.7, 0.3'") as info:
        parse_weights(text, name="reference_weights")
    assert len(str(info.value)) < 300  # thousands of digits are not echoed whole


@pytest.mark.parametrize("text", ["0.5, inf", "nan, 1", "-Infinity, 1"])
def test_nan_and_inf_typed_as_such_are_refused_where_the_weights_are_checked(text):
    with pytest.raises(ValueError, match="reference_weights: NaN or infinite values are not allowed"):
        normalise_weights(parse_weights(text, name="reference_weights"), 2, name="reference_weights")
