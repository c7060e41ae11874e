"""StyleAlignedPatchModel in the real host with tiny SD1.5-, SD2 (v-prediction)- and SDXL-shaped UNets."""

import math

import pytest
import torch
from harness import host, recording
from harness import tiny_models as tiny
from style_aligned.nodes.patch import StyleAlignedPatchModel


def patched(model, **knobs):
    return host.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


@pytest.fixture(scope="module", params=tiny.UNET_KINDS)  # sd2: SD 2.x as v-prediction
def kind_model(request):
    return request.param, tiny.tiny_model(request.param)


LAYOUTS = {  # name -> (cfg, force split)
    "batched cond+uncond": (5.0, False),
    "split cond/uncond": (5.0, True),
    "cfg 1 (no uncond)": (1.0, False),
}


def _sample(model, kind, batch, layout, **kwargs):
    cfg, split = LAYOUTS[layout]
    if split:
        with recording.forced_split(model):
            return tiny.sample(model, kind, batch, cfg=cfg, **kwargs)
    return tiny.sample(model, kind, batch, cfg=cfg, **kwargs)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_reference_row_is_unchanged_and_targets_change(kind_model, layout):
    """At every UNet call, row 0 of each chunk equals the unpatched model's output on the same
    input; target rows do not."""
    kind, model = kind_model
    style = patched(model, share_group_norm=True, score_shift=math.log(2))
    recorder = recording.CallRecorder.install(style)
    _sample(style, kind, 4, layout)
    expected_chunks = {"batched cond+uncond": 2, "split cond/uncond": 1, "cfg 1 (no uncond)": 1}[layout]
    assert {len(call["cond_or_uncond"]) for call in recorder.calls} == {expected_chunks}
    for call in recorder.calls:
        plain = recording.replay_unpatched(model, call)
        rows = plain.shape[0] // len(call["cond_or_uncond"])
        for chunk in range(len(call["cond_or_uncond"])):
            ref, targets = chunk * rows, slice(chunk * rows + 1, (chunk + 1) * rows)
            torch.testing.assert_close(call["output"][ref], plain[ref], rtol=1e-5, atol=1e-5)
            assert (call["output"][targets] - plain[targets]).abs().amax() > 1e-4


def test_batched_and_split_runs_agree(kind_model):
    """Same images whether cond and uncond share a UNet call or not, to float tolerance (the
    tiny random UNet reaches magnitudes of hundreds, so the tolerance is relative to that)."""
    kind, model = kind_model
    style = patched(model, share_group_norm=True)
    recorder = recording.CallRecorder.install(style)
    batched = _sample(style, kind, 3, "batched cond+uncond")
    assert {len(c["cond_or_uncond"]) for c in recorder.calls} == {2}
    recorder.calls.clear()
    split = _sample(style, kind, 3, "split cond/uncond")
    assert {len(c["cond_or_uncond"]) for c in recorder.calls} == {1}
    scale = batched.abs().amax().item()
    assert (batched - split).abs().amax().item() <= 1e-5 * scale


def test_original_model_is_untouched_after_sampling_the_patched_clone(kind_model):
    kind, model = kind_model
    before = tiny.sample(model, kind, 3)
    tiny.sample(patched(model, share_group_norm=True, score_shift=1.0), kind, 3)
    after = tiny.sample(model, kind, 3)
    assert torch.equal(before, after)
    assert not model.object_patches and not model.model_options["transformer_options"]


def test_batch_of_one_runs_as_plain_attention():
    model = tiny.tiny_model("sd15")
    out = tiny.sample(patched(model, share_group_norm=True), "sd15", 1)
    torch.testing.assert_close(out, tiny.sample(model, "sd15", 1), rtol=1e-5, atol=1e-5)


def test_outside_the_active_range_attention_is_plain():
    model = tiny.tiny_model("sd15")
    # steps are at 0, 1/3, 2/3 of the schedule: a range strictly between them touches none
    style = patched(model, share_group_norm=True, start_percent=0.1, end_percent=0.2)
    torch.testing.assert_close(tiny.sample(style, "sd15", 3), tiny.sample(model, "sd15", 3), rtol=1e-5, atol=1e-5)
    partial = patched(model, start_percent=0.0, end_percent=0.2)
    assert not torch.allclose(tiny.sample(partial, "sd15", 3), tiny.sample(model, "sd15", 3), atol=1e-4)


class RecordingReplace(recording.Shared):
    """Another pack's attn1_replace: plain attention that records the key lengths it sees."""

    def __init__(self):
        self.key_lengths = []

    def __call__(self, q, k, v, extra_options):
        from comfy.ldm.modules.attention import optimized_attention

        self.key_lengths.append((q.shape[1], k.shape[1]))
        return optimized_attention(q, k, v, extra_options["n_heads"])


def test_other_packs_attention_replace_and_wrapper_still_run():
    model = tiny.tiny_model("sd15")
    other = model.clone()
    by_block, by_layer, wrapper = RecordingReplace(), RecordingReplace(), recording.CallRecorder()
    other.set_model_attn1_replace(by_block, "output", 1)
    other.set_model_attn1_replace(by_layer, "input", 1, 0)
    other.set_model_unet_function_wrapper(wrapper)
    style = patched(other, share_group_norm=True)
    aligned = tiny.sample(style, "sd15", 3)
    assert wrapper.calls, "the other pack's model wrapper was dropped"
    for replace in (by_block, by_layer):
        assert replace.key_lengths, "the other pack's attention replace was dropped"
        # targets went through it with their own plus the reference's keys
        assert any(k == 2 * q for q, k in replace.key_lengths)
    # and the result is the same as with our own kernel
    ours = tiny.sample(patched(model, share_group_norm=True), "sd15", 3)
    torch.testing.assert_close(aligned, ours, rtol=1e-4, atol=1e-4)


def test_patching_a_patched_model_replaces_our_patch_and_keeps_other_packs(caplog):
    """A second Style Aligned patch used to chain the first as if it were a kernel and crash at
    sampling (shape '[2, 2, 64, 32]' is invalid). Now the later settings win, the log says so, and
    another pack's replace and wrapper registered underneath still run."""
    model = tiny.tiny_model("sd15")
    other = model.clone()
    replace, wrapper = RecordingReplace(), recording.CallRecorder()
    other.set_model_attn1_replace(replace, "output", 1)
    other.set_model_unet_function_wrapper(wrapper)
    plain = tiny.sample(model, "sd15", 3)

    first = patched(other, share_group_norm=True, score_shift=math.log(2))
    with caplog.at_level("WARNING", logger="style_aligned"):
        twice = patched(first, share_group_norm=False, layers="fraction", share_fraction=0.5)
    assert "already carried a Style Aligned patch; it is replaced" in caplog.text
    once = patched(other, share_group_norm=False, layers="fraction", share_fraction=0.5)
    assert first.object_patches and not twice.object_patches  # the first patch's GroupNorm patches are gone
    assert set(twice.model_options["transformer_options"]["patches_replace"]["attn1"]) == \
        set(once.model_options["transformer_options"]["patches_replace"]["attn1"])

    torch.testing.assert_close(tiny.sample(twice, "sd15", 3), tiny.sample(once, "sd15", 3))
    assert replace.key_lengths and wrapper.calls  # the other pack's patches ran under ours
    torch.testing.assert_close(tiny.sample(model, "sd15", 3), plain, rtol=0, atol=0)  # the original is untouched


def test_style_blocks_preset_patches_only_the_style_block():
    model = tiny.tiny_model("sdxl")
    style = patched(model, layers="style blocks")
    keys = set(style.model_options["transformer_options"]["patches_replace"]["attn1"])
    assert keys == {("output", 1, 0)}


def test_fraction_and_custom_layers():
    model = tiny.tiny_model("sd15")
    half = patched(model, layers="fraction", share_fraction=0.5)
    assert len(half.model_options["transformer_options"]["patches_replace"]["attn1"]) == 3  # of 7
    custom = patched(model, layers="custom", custom_layers="input_1, output_3")
    assert set(custom.model_options["transformer_options"]["patches_replace"]["attn1"]) == {
        ("input", 1, 0), ("output", 3, 0)}


@pytest.mark.parametrize("knobs,message", [
    ({"layers": "custom", "custom_layers": "output_9"}, "custom_layers: unknown block 'output_9'"),
    ({"layers": "custom", "custom_layers": "  "}, "custom_layers is empty"),
    ({"score_scale": float("nan")}, "score_scale must be a finite number"),
    ({"score_shift": float("inf")}, "score_shift must be a finite number"),
    ({"share_fraction": 1.5}, "share_fraction"),
    ({"start_percent": 0.8, "end_percent": 0.2}, "start_percent"),
])
def test_bad_knobs_name_the_input(knobs, message):
    model = tiny.tiny_model("sd15")
    with pytest.raises(ValueError, match=message):
        patched(model, **knobs)
    assert not model.model_options.get("transformer_options")


def test_host_kernel_gets_the_transformer_options(monkeypatch):
    """The host hands transformer_options to optimized_attention (another pack's `optimized_attention_override`
    lives there); our kernel calls pass them on, with q, k, v already split into heads."""
    import comfy.ldm.modules.attention as host_attention
    from style_aligned.nodes.families.unet import host_attend

    seen = []

    def kernel(q, k, v, heads, mask=None, attn_precision=None, **kwargs):
        seen.append(kwargs)
        return q

    monkeypatch.setattr(host_attention, "optimized_attention", kernel)
    options = {"n_heads": 2, "optimized_attention_override": object()}
    q = torch.randn(2, 2, 5, 4)
    torch.testing.assert_close(host_attend(None, options)(q, q, q), q)
    assert seen == [{"transformer_options": options, "skip_reshape": True, "skip_output_reshape": True}]


def test_reference_row_is_unchanged_under_another_packs_attention_override():
    """Current upstream: a kernel override in transformer_options (as SageAttention packs set) is
    used by the unpatched model, so the reference rows must go through it too."""

    class Override(recording.Shared):
        calls = 0

        def __call__(self, kernel, *args, **kwargs):
            Override.calls += 1
            return kernel(*args, **kwargs) * 1.05

    model = tiny.tiny_model("sd15").clone()
    model.model_options["transformer_options"]["optimized_attention_override"] = Override()
    style = patched(model)
    recorder = recording.CallRecorder.install(style)
    tiny.sample(style, "sd15", 3)
    assert Override.calls
    for call in recorder.calls:
        plain = recording.replay_unpatched(model, call)
        rows = plain.shape[0] // len(call["cond_or_uncond"])
        for chunk in range(len(call["cond_or_uncond"])):
            torch.testing.assert_close(call["output"][chunk * rows], plain[chunk * rows], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("knobs, note", [
    ({"layers": "fraction", "share_fraction": 0.0}, "no attention layer is selected"),
    ({"start_percent": 0.4, "end_percent": 0.4}, "the active range is empty"),
    ({}, ""),
])
def test_settings_that_share_nothing_say_so_on_the_node(knobs, note):
    model = tiny.tiny_model("sd15")
    (style,), text = host.run_node_shown(StyleAlignedPatchModel, model=model, **knobs)
    assert (note in text) if note else text == ""
    assert torch.isfinite(tiny.sample(style, "sd15", 3)).all()  # still a working model


def test_the_active_range_is_decided_once_per_model_call(monkeypatch):
    """Deciding whether sharing is active reads sigma as a float (a host sync on a GPU): once per
    model call in the wrapper, not once per patched layer."""
    from style_aligned.nodes import hooks

    decisions, original = [], hooks.SigmaRange.contains

    def counted(self, sigmas):
        decisions.append(sigmas)
        return original(self, sigmas)

    monkeypatch.setattr(hooks.SigmaRange, "contains", counted)
    style = patched(tiny.tiny_model("sd15"), share_group_norm=True)
    recorder = recording.CallRecorder.install(style)
    tiny.sample(style, "sd15", 3, steps=2)
    assert recorder.calls and len(decisions) == len(recorder.calls)


def test_share_attention_off_keeps_adain_as_the_original_and_all_off_is_said():
    model = tiny.tiny_model("sd15")
    adain_only = patched(model, share_attention=False)
    assert adain_only.model_options["transformer_options"]["patches_replace"]["attn1"]  # AdaIN still runs
    recorder = recording.CallRecorder.install(adain_only)
    out = tiny.sample(adain_only, "sd15", 3)
    for call in recorder.calls:  # the reference row is still the unpatched model's
        plain = recording.replay_unpatched(model, call)
        rows = plain.shape[0] // len(call["cond_or_uncond"])
        torch.testing.assert_close(call["output"][0], plain[0], rtol=1e-5, atol=1e-5)
        assert not torch.equal(call["output"][1:rows], plain[1:rows])  # small on a random tiny UNet
    assert torch.isfinite(out).all()
    off = dict(share_attention=False, adain_queries=False, adain_keys=False)
    (untouched,), text = host.run_node_shown(StyleAlignedPatchModel, model=model, **off)
    assert "the model is unchanged" in text
    assert not untouched.model_options["transformer_options"].get("patches_replace", {}).get("attn1")
