"""Upstream-only check (run by hand, see tools/check_upstream.md; not collected by CI, whose
test host has no attention override): with another pack's kernel override in
transformer_options, the reference rows still equal the unpatched model.

    PYTHONPATH=/tmp/upstream-comfy python -m pytest -q tests/upstream/check_attention_override.py
"""

import sa_support as hs
import torch
from style_aligned.nodes.patch import StyleAlignedPatchModel


def patched(model, **knobs):
    return hs.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


def _host_has_attention_override():
    import inspect

    import comfy.ldm.modules.attention as host_attention

    parameters = inspect.signature(host_attention.optimized_attention).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def test_reference_row_is_unchanged_under_another_packs_attention_override():
    """Current upstream: a kernel override in transformer_options (as SageAttention patches set)
    is used by the unpatched model, so the reference rows must go through it too."""
    assert _host_has_attention_override(), "run this check on current upstream ComfyUI (tools/check_upstream.md)"

    class Override:
        calls = 0

        def __deepcopy__(self, memo):
            return self

        def __call__(self, kernel, *args, **kwargs):
            Override.calls += 1
            return kernel(*args, **kwargs) * 1.05

    model = hs.tiny_model("sd15").clone()
    model.model_options["transformer_options"]["optimized_attention_override"] = Override()
    style = patched(model)
    recorder = hs.CallRecorder.install(style)
    hs.sample(style, "sd15", 3)
    assert Override.calls
    for call in recorder.calls:
        plain = hs.replay_unpatched(model, call)
        rows = plain.shape[0] // len(call["cond_or_uncond"])
        for chunk in range(len(call["cond_or_uncond"])):
            torch.testing.assert_close(call["output"][chunk * rows], plain[chunk * rows], rtol=1e-5, atol=1e-5)
