import pytest
from style_aligned.core.prompt_set import apply_style, batch_rows, parse_prompt_lines, window_rows


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
