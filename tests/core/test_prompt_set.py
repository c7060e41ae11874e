import pytest
import torch
from style_aligned.core.alignment.prompt_set import (
    apply_style,
    batch_rows,
    common_length,
    parse_prompt_lines,
    stack_rows,
    window_rows,
)


def test_lines_are_stripped_and_blank_lines_dropped():
    assert parse_prompt_lines(" a house \n\n  a cat\n") == ["a house", "a cat"]


@pytest.mark.parametrize("text", ["", "  \n \n"])
def test_empty_prompt_list_names_the_input(text):
    with pytest.raises(ValueError, match="prompts is empty"):
        parse_prompt_lines(text)


def test_style_appended_or_used_as_template():
    assert apply_style("a cat", "") == "a cat"
    assert apply_style("a cat", "watercolor") == "a cat, watercolor"
    assert apply_style("a cat", "a watercolor of {prompt}, soft") == "a watercolor of a cat, soft"


def test_windows_always_start_with_the_reference():
    assert window_rows(6) == [0, 1, 2, 3, 4, 5]
    assert window_rows(6, 0, 2) == [0, 1, 2]
    assert window_rows(6, 2, 2) == [0, 3, 4]
    assert window_rows(6, 4, 2) == [0, 5]
    assert window_rows(1) == [0]


def test_window_past_the_end_is_an_error():
    with pytest.raises(ValueError, match="window_start 5 is past the last target"):
        window_rows(6, 5, 1)


def test_batch_rows_put_k_reference_rows_first_with_stable_noise():
    assert batch_rows(5) == ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4])
    assert batch_rows(5, 2, 2, refs=2) == ([0, 0, 3, 4], [0, 1, 4, 5])
    assert batch_rows(5, 0, 0, refs=3) == ([0, 0, 0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6])


def _rows(*lengths, width=3):
    return [torch.randn(1, n, width, generator=torch.Generator().manual_seed(n)) for n in lengths]


def test_rows_are_repeated_exactly_while_the_common_length_stays_small():
    short, long = _rows(77, 154)
    stacked = stack_rows([short, long], lambda: pytest.fail("nothing is padded"))
    assert stacked.shape == (2, 154, 3)
    assert torch.equal(stacked[0], short[0].repeat(2, 1)) and torch.equal(stacked[1], long[0])


def test_very_different_lengths_pad_to_the_longest_row_with_the_empty_prompt():
    """Prompts of 4, 5, 6 and 7 chunks would repeat to 420 chunks a row (lcm); instead every row
    is as long as the longest, its own tokens first, then empty-prompt tokens."""
    rows = _rows(308, 385, 462, 539)
    empty = torch.full((1, 77, 3), 0.5)
    assert common_length([r.shape[1] for r in rows]) == (539, False)
    stacked = stack_rows(rows, lambda: empty)
    assert stacked.shape == (4, 539, 3)
    for row, original in zip(stacked, rows, strict=True):
        n = original.shape[1]
        assert torch.equal(row[:n], original[0]) and torch.equal(row[n:], torch.full((539 - n, 3), 0.5))


def test_padding_cuts_the_empty_prompt_when_it_does_not_divide_the_gap():
    assert common_length([5, 50]) == (50, True)  # lcm 50 <= 4 * 50: repeated
    rows = _rows(7, 30)  # lcm 210 > 120: padded with 23 tokens from a 10-token empty prompt
    stacked = stack_rows(rows, lambda: torch.arange(10.0).reshape(1, 10, 1).expand(1, 10, 3))
    assert stacked.shape == (2, 30, 3)
    assert torch.equal(stacked[0, 7:, 0], torch.arange(10.0).repeat(3)[:23])
