import pytest
import torch
from style_aligned.core.alignment.reference_rows import reference_rows, replace_reference_rows, zero_reference_rows


def test_reference_rows_are_the_first_rows_of_every_chunk():
    assert reference_rows(6, 2, 1) == [0, 3]
    assert reference_rows(8, 2, 2) == [0, 1, 4, 5]
    assert reference_rows(2, 2, 1) == [0, 1]


def test_replace_and_zero_touch_only_reference_rows():
    x = torch.arange(6.0).view(6, 1, 1, 1).expand(6, 2, 2, 2).clone()
    refs = torch.full((2, 2, 2, 2), -1.0)
    refs[1] = -2
    out = replace_reference_rows(x, refs, chunks=2)
    assert out[:, 0, 0, 0].tolist() == [-1, -2, 2, -1, -2, 5]
    assert x[0, 0, 0, 0] == 0  # input untouched
    zeroed = zero_reference_rows(x, chunks=3, refs=1)
    assert zeroed[:, 0, 0, 0].tolist() == [0, 1, 0, 3, 0, 5]


def test_size_mismatch_names_the_reference():
    with pytest.raises(ValueError, match="style_reference: the reference latent is 4 channels x 8x8"):
        replace_reference_rows(torch.zeros(2, 4, 16, 16), torch.zeros(1, 4, 8, 8), chunks=1)
