import style_aligned


def test_pack_exports_nodes():
    assert isinstance(style_aligned.NODE_CLASS_MAPPINGS, dict)
