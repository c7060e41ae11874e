"""StyleAlignedPatchModel on diffusion transformers in the real upstream host: tiny Flux dev-, schnell- and
Chroma-shaped, SD3-shaped and Qwen-Image-shaped models built from configs."""

import pytest
import torch
from harness import host, recording
from harness import tiny_models as tiny
from style_aligned.nodes.patch import StyleAlignedPatchModel

KINDS = ["flux", "flux_schnell", "chroma", "sd3", "qwen_image"]


def patched(model, **knobs):
    return host.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


@pytest.fixture(scope="module", params=KINDS)
def kind_model(request):
    return request.param, tiny.TINY_DITS[request.param]()


def sampler(kind):
    """sample(model, cfg) of this family's tiny 3-row batch, for the harness's invariants."""
    return lambda model, cfg: tiny.sample(model, kind, 3, cfg=cfg, steps=2)

def test_batch_of_one_runs_as_plain_attention(kind_model):
    kind, model = kind_model
    plain = tiny.sample(model, kind, 1, cfg=1.0, steps=2)
    torch.testing.assert_close(tiny.sample(patched(model), kind, 1, cfg=1.0, steps=2), plain, rtol=1e-5, atol=1e-5)


def test_an_override_and_a_block_replace_registered_before_ours_still_run():
    model = tiny.tiny_flux()
    other = model.clone()
    override, replace = recording.OtherOverride(), recording.OtherBlockReplace()
    other.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = override
    other.set_model_patch_replace(replace, "dit", "single_block", 1)
    style = patched(other)
    recorder = recording.CallRecorder.install(style)
    tiny.sample(style, "flux", 3, cfg=1.0, steps=2)
    assert replace.calls == len(recorder.calls) == 2
    assert override.calls >= 5 * len(recorder.calls)  # every block's attention, shared or not, reaches it
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4
    again = patched(style)  # patching twice replaces ours and keeps theirs
    options = again.model_options["transformer_options"]
    assert options["optimized_attention_override"].previous is override
    assert options["patches_replace"]["dit"][("single_block", 1)].previous is replace


def test_layer_presets_choose_different_blocks():
    model = tiny.tiny_flux()
    outputs = {mode: tiny.sample(patched(model, layers=mode), "flux", 3, cfg=1.0, steps=2)
               for mode in ("auto", "single-stream blocks", "double-stream blocks", "all")}
    assert torch.equal(outputs["auto"], outputs["single-stream blocks"])
    assert not torch.allclose(outputs["auto"], outputs["double-stream blocks"])
    assert not torch.allclose(outputs["all"], outputs["auto"])
    custom = tiny.sample(patched(model, layers="custom", custom_layers="single_0-2"), "flux", 3, cfg=1.0, steps=2)
    assert torch.equal(custom, outputs["auto"])


@pytest.mark.parametrize("kind,knobs,message", [
    ("flux", {"layers": "custom", "custom_layers": "output_1"}, r"unknown block 'output_1'.*double_0-1, single_0-2"),
    ("sd3", {"layers": "custom", "custom_layers": "single_3"}, r"unknown block 'single_3'.*joint_0-1"),
    ("flux", {"layers": "style blocks"}, r"layers: 'style blocks' does not apply.*single-stream blocks"),
    ("qwen_image", {"layers": "double-stream blocks"}, r"does not apply to this model; choose one of auto, all"),
    ("flux", {"reference_positions": "beside"}, r"reference_positions must be one of shift, none"),
])
def test_bad_layer_names_list_what_fits_this_family(kind, knobs, message):
    model = tiny.TINY_DITS[kind]()
    with pytest.raises(ValueError, match=message):
        patched(model, **knobs)
    assert not model.model_options.get("transformer_options")


@pytest.mark.parametrize("kind", ["flux", "qwen_image"])
def test_shifted_reference_positions_change_the_targets_not_the_reference(kind):
    model = tiny.TINY_DITS[kind]()
    shift, none = (tiny.sample(patched(model, reference_positions=mode), kind, 3, cfg=1.0, steps=2)
                   for mode in ("shift", "none"))
    torch.testing.assert_close(shift[0], none[0], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(shift[1:], none[1:], atol=1e-4)


def test_sd3_positions_are_at_the_input_so_shift_and_none_agree():
    model = tiny.tiny_sd3()
    shift, none = (tiny.sample(patched(model, reference_positions=mode), "sd3", 3, cfg=1.0, steps=2)
                   for mode in ("shift", "none"))
    assert torch.equal(shift, none)


def test_the_shift_is_the_hosts_rope_at_positions_one_width_to_the_right():
    """Turning a key the host embedded at column c by our ShiftPE angles gives the host's own
    embedding at column c + latent width / patch."""
    from comfy.ldm.flux.math import apply_rope1
    from style_aligned.core.alignment.positions import rotate_pairs
    from style_aligned.nodes.families import flux
    from style_aligned.nodes.families.dit import JointAttentionOverride

    embedder = tiny.tiny_flux().get_model_object("diffusion_model").pe_embedder
    ids = torch.tensor([[[0.0, 1.0, 2.0], [0.0, 3.0, 0.0]]])
    moved = ids + torch.tensor([0.0, 0.0, 4.0])  # a latent 8 wide is 4 patch tokens
    key = torch.randn(1, 1, 2, sum(embedder.axes_dim), dtype=torch.float32)
    override = JointAttentionOverride(flux.FAMILY, ((tuple(embedder.axes_dim), embedder.theta), 2))
    turned = rotate_pairs(apply_rope1(key, embedder(ids)), override._turn(_call(latent_shape=(3, 16, 8, 8))))
    torch.testing.assert_close(turned, apply_rope1(key, embedder(moved)), rtol=1e-5, atol=1e-5)


def test_share_group_norm_says_it_does_nothing_on_a_dit():
    (style,), text = host.run_node_shown(StyleAlignedPatchModel, model=tiny.tiny_flux(), share_group_norm=True)
    assert "has no GroupNorm layers" in text
    assert torch.isfinite(tiny.sample(style, "flux", 3, cfg=1.0, steps=2)).all()


def test_the_hosts_reference_latent_conditioning_keeps_working():
    """Kontext-style ReferenceLatent appends the reference image's tokens to every row's image
    sequence; the reference row still matches the unpatched model and targets still share."""
    import node_helpers

    model = tiny.tiny_flux()
    positive = tiny.dit_conditioning("flux", 3)
    positive = node_helpers.conditioning_set_values(positive, {"reference_latents": [torch.randn(1, 16, 8, 8)]},
                                                    append=True)
    style = patched(model)
    recorder = recording.CallRecorder.install(style)
    out = tiny.sample(style, "flux", 3, cfg=1.0, steps=2, positive=positive)
    assert torch.isfinite(out).all()
    assert "ref_latents" in recorder.calls[0]["c"]
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


@pytest.mark.parametrize("kind,family", [("lumina2", r"Lumina2 \(NextDiT\)"),
                                         ("hunyuan_video", r"HunyuanVideo \(HunyuanVideo\)")])
def test_an_unsupported_family_is_named_with_the_supported_ones(kind, family):
    """Lumina 2 offers no block hooks; HunyuanVideo has Flux-like blocks but is a video model."""
    from style_aligned.nodes.families import FAMILIES

    model = tiny.tiny_unsupported(kind)
    with pytest.raises(ValueError, match=rf"model: {family} is not supported; Style Aligned works with ") as error:
        patched(model)
    for supported in ["SD1.5 / SD2 / SDXL (UNet)"] + [f.name for f in FAMILIES]:
        assert supported in str(error.value)
    assert not model.model_options.get("transformer_options")


def _call(chunks=1, joint=(3, 5), latent_shape=(3, 16, 2, 10), **settings):
    """The state of one model call as our model wrapper makes it, sharing in block joint_0 (a 2 x 10 latent is
    5 image tokens at patch size 2)."""
    from style_aligned.nodes.hooks import Call, Settings

    settings = Settings(selected=frozenset({("joint", 0)}), **settings)
    return Call(settings, chunks, True, latent_shape, settings.opts, joint=joint)


def _in_a_joint_block(call=None):
    """(our override on an SD3-shaped family, the transformer_options of an attention call inside selected block
    joint_0 of 3 text + 5 image tokens)."""
    from style_aligned.nodes.families import sd3
    from style_aligned.nodes.families.dit import BLOCK, JointAttentionOverride
    from style_aligned.nodes.hooks import CALL

    options = {"cond_or_uncond": [0], CALL: call or _call(), BLOCK: ("joint", 0)}
    return JointAttentionOverride(sd3.FAMILY, (None, 2)), {"transformer_options": options}


def test_the_override_reads_every_way_the_host_calls_its_kernel():
    """Heads by name or position, (B, L, heads*dim) or (B, heads, L, dim) in, and (B, heads, L, dim) back
    when the caller asks for it (skip_output_reshape): the same shared attention every time."""
    from comfy.ldm.modules.attention import attention_pytorch
    from style_aligned.core.alignment.attention import shared_joint_attention

    override, options = _in_a_joint_block()
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, 8, 16, generator=gen) for _ in range(3))  # (B, heads, L, dim)
    want = shared_joint_attention(q, k, v, 1, slice(3, None))
    flat = [t.transpose(1, 2).flatten(2) for t in (q, k, v)]
    for got in (override(attention_pytorch, *flat, heads=2, **options),
                override(attention_pytorch, *flat, 2, None, None, **options),
                override(attention_pytorch, q, k, v, 2, skip_reshape=True, **options)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    heads_back = override(attention_pytorch, q, k, v, 2, skip_reshape=True, skip_output_reshape=True, **options)
    torch.testing.assert_close(heads_back.transpose(1, 2).flatten(2), want, rtol=1e-5, atol=1e-5)


NEW_MODES = {"untwist": dict(reference_positions="untwist"), "decrease": dict(reference_strength="decrease"),
             "untwist + decrease": dict(reference_positions="untwist", reference_strength="decrease", untwist_low=2.0)}


@pytest.mark.parametrize("mode", list(NEW_MODES))
@pytest.mark.parametrize("kind", ["flux", "chroma", "qwen_image"])
def test_the_reference_row_is_unchanged_in_every_new_mode(kind, mode):
    model = tiny.TINY_DITS[kind]()
    style = patched(model, score_scale=1.1, **NEW_MODES[mode])
    recorder = recording.CallRecorder.install(style)
    tiny.sample(style, kind, 3, cfg=1.0, steps=3)
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5
    assert least_target > 1e-5  # 'decrease' fades the reference at the last, least noisy call: a smaller change


def test_decrease_scales_the_reference_keys_by_the_squared_noise_level_at_each_call(monkeypatch):
    """AlignedGen's 'decrease' mode: (t / 1000)^2 with t = 1000 sigma on Flux, times score_scale."""
    from style_aligned.nodes import hooks

    seen, original = [], hooks.Settings.for_call

    def recorded(self, sigma):
        opts, progress = original(self, sigma)
        seen.append((float(sigma.max()), opts.score_scale, progress))
        return opts, progress

    monkeypatch.setattr(hooks.Settings, "for_call", recorded)
    tiny.sample(patched(tiny.tiny_flux(), score_scale=1.1, reference_strength="decrease"), "flux", 3, cfg=1.0, steps=3)
    assert len(seen) == 3
    for sigma, scale, progress in seen:
        assert scale == pytest.approx(1.1 * sigma**2, rel=1e-6)
        assert progress == pytest.approx(1 - sigma, abs=1e-6)
    assert seen[0][1] > seen[-1][1]  # strong while the image is noise, fading as it settles


def test_untwist_and_decrease_change_the_targets_and_bad_values_are_named():
    model = tiny.tiny_flux()
    outputs = {mode: tiny.sample(patched(model, **knobs), "flux", 3, cfg=1.0, steps=2)
               for mode, knobs in {"shift": {}, **NEW_MODES}.items()}
    for mode in NEW_MODES:
        assert (outputs[mode][1:] - outputs["shift"][1:]).abs().amax() > 1e-4, mode
    with pytest.raises(ValueError, match="reference_strength must be one of fixed, decrease"):
        patched(model, reference_strength="linear")
    with pytest.raises(ValueError, match="untwist_low must be a finite number between 0.0 and 4.0"):
        patched(model, untwist_low=float("nan"))
