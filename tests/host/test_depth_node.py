"""DepthMap node in the real host with a tiny DPT loaded from a local folder offline."""


import pytest
import torch
from harness import host, tiny_hf
from style_aligned.nodes import depth


@pytest.fixture(scope="module")
def dpt_name(tmp_path_factory):
    root = tmp_path_factory.mktemp("dpt_models")
    tiny_hf.dpt(root / "Intel--tiny-dpt")
    with host.model_folder("dpt", root):
        yield "Intel/tiny-dpt"  # a hub-style name found as the Intel--tiny-dpt folder


def test_depth_node_keeps_size_and_drops_alpha(dpt_name):
    node = depth.StyleAlignedDepthMap
    assert "Intel--tiny-dpt" in host.choices(node, "model")
    (maps,) = host.call(node, torch.rand(2, 24, 40, 4), "Intel/dpt-hybrid-midas", dpt_name)["result"]
    assert maps.shape == (2, 24, 40, 3) and maps.dtype == torch.float32
    assert 0.0 <= float(maps.min()) and float(maps.max()) <= 1.0 and float(maps.std()) > 0
    with pytest.raises(RuntimeError, match="Intel/dpt-hybrid-midas was not found in"):
        host.call(node, torch.rand(1, 8, 8, 3), "Intel/dpt-hybrid-midas", "")
