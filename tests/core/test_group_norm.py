import pytest
import torch
import torch.nn.functional as F
from style_aligned.core.alignment.group_norm import shared_group_norm


def _inputs(batch, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 8, 5, 5, generator=gen) * torch.linspace(0.5, 3, batch).view(-1, 1, 1, 1)
    return x, torch.randn(8, generator=gen), torch.randn(8, generator=gen)


@pytest.mark.parametrize("chunks,refs", [(1, 1), (2, 1), (2, 2)])
def test_target_stats_equal_group_norm_of_concatenated_features(chunks, refs):
    x, weight, bias = _inputs(chunks * 4)
    out = shared_group_norm(x, 4, weight, bias, 1e-5, chunks, refs)
    rows = x.shape[0] // chunks
    for c in range(chunks):
        base = c * rows
        for r in range(rows):
            i = base + r
            if r < refs:
                want = F.group_norm(x[i:i + 1], 4, weight, bias, 1e-5)
            else:
                # the original concatenates target and reference maps along height
                joint = torch.cat([x[i:i + 1]] + [x[j:j + 1] for j in range(base, base + refs)], dim=-2)
                want = F.group_norm(joint, 4, weight, bias, 1e-5)[..., : x.shape[-2], :]
            torch.testing.assert_close(out[i:i + 1], want, rtol=1e-5, atol=1e-5)


def test_chunk_of_references_only_is_plain_group_norm():
    x, weight, bias = _inputs(2)
    torch.testing.assert_close(shared_group_norm(x, 4, weight, bias, 1e-5, chunks=2),
                               F.group_norm(x, 4, weight, bias, 1e-5))


def test_bad_chunking_is_rejected():
    x, weight, bias = _inputs(3)
    with pytest.raises(ValueError, match="does not split"):
        shared_group_norm(x, 4, weight, bias, 1e-5, chunks=2)
