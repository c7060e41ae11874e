"""GroupNorm sharing (StyleAligned's `share_group_norm`), pure torch.

A target's GroupNorm statistics are taken over its own features together with the
references' (as if the feature maps were concatenated), so every target is normalised
towards the references' contrast and brightness. References keep their own statistics.
"""

import torch
import torch.nn.functional as F

from .reference_rows import rows_per_chunk


def shared_group_norm(x, num_groups, weight, bias, eps, chunks, refs=1):
    """GroupNorm of x (B, C, *spatial) where B is `chunks` chunks with `refs` reference rows each."""
    batch = x.shape[0]
    rows = rows_per_chunk(batch, chunks)
    if rows <= refs:
        return F.group_norm(x, num_groups, weight, bias, eps)
    groups = x.reshape(chunks, rows, num_groups, -1)
    var, mean = torch.var_mean(groups.float(), dim=-1, unbiased=False)  # (chunks, rows, G)
    ref_mean, ref_var = mean[:, :refs], var[:, :refs]
    # Pool each target with every reference: equal-sized sets, so the pooled mean is the mean of
    # means and the pooled variance is the mean variance plus the spread of the means.
    pool_mean = torch.cat([mean[:, refs:, None], ref_mean[:, None].expand(-1, rows - refs, -1, -1)], dim=2)
    pool_var = torch.cat([var[:, refs:, None], ref_var[:, None].expand(-1, rows - refs, -1, -1)], dim=2)
    target_mean = pool_mean.mean(dim=2)
    target_var = pool_var.mean(dim=2) + (pool_mean - target_mean[:, :, None]).square().mean(dim=2)
    mean = torch.cat([ref_mean, target_mean], dim=1)
    var = torch.cat([ref_var, target_var], dim=1)
    normed = (groups - mean[..., None].to(x.dtype)) * torch.rsqrt(var[..., None] + eps).to(x.dtype)
    out = normed.reshape(x.shape)
    if weight is not None:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        out = out * weight.view(shape) + bias.view(shape)
    return out
