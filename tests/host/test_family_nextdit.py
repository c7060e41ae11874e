"""StyleAlignedPatchModel on Z-Image, Krea 2 and Boogu in the real v0.28 host (none of them exists in v0.3.64):
families with no "dit" block replace, whose running block a marker on its attention module's forward names.
Tiny models built from configs (harness.tiny_nextdit). Their refiners and text-fusion stages call the same
attention before the main blocks and must run plainly; the image is the tail of every shared call (Z-Image's
padded to 32 tokens, its pad tokens after it); Boogu's keys and values come in fewer heads."""

import functools

import pytest
import torch
from harness import host, recording
from harness import tiny_nextdit as tiny
from style_aligned.nodes.patch import StyleAlignedPatchModel

KINDS = [pytest.param(kind, marks=pytest.mark.needs(tiny.FEATURES[kind]), id=kind) for kind in tiny.KINDS]
TEXT = 8  # the tiny conditioning's tokens


def patched(model, **knobs):
    return host.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


def family(kind):
    from style_aligned.nodes.families import family_for

    return family_for(tiny.CONFIG_CLASSES[kind])


@pytest.fixture(scope="module", params=KINDS)
def kind_model(request):
    return request.param, tiny.tiny(request.param)


def sampler(kind):
    """sample(model, cfg) of this family's tiny 3-row batch, for the harness's invariants."""
    return lambda model, cfg: tiny.sample(model, kind, 3, cfg=cfg)

def _attention_modules(model, kind):
    """The attention modules the family's record marks, one per (block, module)."""
    from style_aligned.nodes.families.dit import _module

    diffusion_model = model.get_model_object("diffusion_model")
    return [_module(block, blocks.attention) for blocks in family(kind).blocks
            for block in _module(diffusion_model, blocks.path)]


# ---------------------------------------------------------------- the invariants of every DiT family


def test_no_forward_marker_is_left_on_the_original_model(kind_model):
    """These families are marked on their attention modules' forward (an object patch of the clone, put on the
    shared modules while the clone is loaded): sampling the original after the clone runs its modules unmarked
    (the rest of the invariants: test_family_invariants)."""
    from style_aligned.nodes.families.dit import ForwardMarker

    kind, model = kind_model
    tiny.sample(patched(model), kind, 3)
    tiny.sample(model, kind, 3)
    assert not any(isinstance(module.forward, ForwardMarker) for module in _attention_modules(model, kind))


def test_batch_of_one_runs_as_plain_attention(kind_model):
    kind, model = kind_model
    plain = tiny.sample(model, kind, 1, cfg=4.0)
    torch.testing.assert_close(tiny.sample(patched(model), kind, 1, cfg=4.0), plain, rtol=1e-5, atol=1e-5)


class _OtherForward(recording.Shared):
    """Another pack's object patch on an attention module's forward: counts its calls."""

    def __init__(self, forward):
        self.forward = forward
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.forward(*args, **kwargs)


def test_an_override_and_an_object_patch_registered_before_ours_still_run(kind_model):
    from style_aligned.nodes.families.dit import DitAdapter, ForwardMarker

    kind, model = kind_model
    blocks = family(kind).blocks[-1]
    name = f"diffusion_model.{blocks.path}.0.{blocks.attention}.forward"
    other = model.clone()
    override, forward = recording.OtherOverride(), _OtherForward(other.get_model_object(name))
    other.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = override
    other.add_object_patch(name, forward)
    style = patched(other, layers="all")
    recorder = recording.CallRecorder.install(style)
    tiny.sample(style, kind, 3)
    assert forward.calls == len(recorder.calls) == 2
    assert override.calls >= 5 * len(recorder.calls)  # every attention, refiners included, reaches it
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4
    again = patched(style)  # patching twice replaces ours and keeps theirs
    assert again.model_options["transformer_options"]["optimized_attention_override"].previous is override
    assert isinstance(again.object_patches[name], ForwardMarker) and again.object_patches[name].previous is forward
    taken_off = again.clone()
    assert DitAdapter.remove(taken_off) and taken_off.object_patches == {name: forward}


# ---------------------------------------------------------------- which tokens are the image

# per kind, the attention calls of one model call in order: (the block that marks it, or None: a refiner or text
# fusion stage that must run plainly; the call's length; where the real image tokens are). 8 text tokens, a
# 6 x 8 latent: 12 image tokens. Z-Image pads the caption and the image to 32 tokens each (pads after each);
# Krea 2 fuses its 12-layer tap across layers (length 12, the image's) then over the text; Boogu's double-stream
# layer attends jointly, then over the image alone.
CALLS = {
    "z_image": [(None, 32, None), (None, 32, None), (("layer", 0), 64, slice(32, 44)),
                (("layer", 1), 64, slice(32, 44))],
    "krea2": [(None, 12, None), (None, 12, None), (None, TEXT, None), (None, TEXT, None),
              (("single", 0), 20, slice(TEXT, 20)), (("single", 1), 20, slice(TEXT, 20))],
    "boogu": [(None, TEXT, None), (None, 12, None), (("double", 0), 20, slice(TEXT, 20)),
              (("double", 0), 12, slice(0, 12)), (("single", 0), 20, slice(TEXT, 20)),
              (("single", 1), 20, slice(TEXT, 20))],
}
# where each family's host hands its attention module the rotations: (position after self) of the marked calls
PE_ARGUMENT = {"z_image": [2, 2], "krea2": [1, 1], "boogu": [2, 3, 3, 3]}


def _record_one_call(kind, model):
    """One model call (cfg 1, three rows, every block sharing) with the override's calls (and the marker in
    effect at each), the AdaIN calls inside them and the arguments the host hands the marked attention modules."""
    from style_aligned.core.alignment import attention
    from style_aligned.nodes.families import dit

    style = patched(model, layers="all")
    with recording.recorded(dit.JointAttentionOverride, context=dit._marked.get) as calls, \
            recording.recorded(attention, "adain") as adains, recording.recorded(dit.ForwardMarker) as marked:
        tiny.sample(style, kind, 3, steps=1)
    return calls, adains, marked


def _unrotated(x, rotations, image):
    from style_aligned.core.alignment.positions import rotate_by

    return rotate_by(x[:, :, image], rotations[:, :, image], inverse=True)


def _statistics(x):
    """Per-channel mean and std over the tokens, as the method's AdaIN takes them (unbiased, eps 1e-5)."""
    return x.mean(dim=-2, keepdim=True), (x.var(dim=-2, keepdim=True) + 1e-5).sqrt()


@pytest.mark.parametrize("kind", KINDS)
def test_the_image_tokens_are_exactly_the_real_image_and_everything_else_runs_plainly(kind):
    """Refiners and text fusion run as the host's kernel would; in the shared calls AdaIN's statistics are those
    of exactly the image tokens (not the caption, not pad tokens), taken in the un-rotated frame of the host's
    own rotations, and nothing but the reference's image tokens reaches another row."""
    from style_aligned.nodes.families.dit import _rotations

    model = tiny.tiny(kind)
    calls, adains, marked = _record_one_call(kind, model)
    assert [(c["context"][0] if c["context"] else None, c["args"][2].shape[2]) for c in calls] == \
        [(block, length) for block, length, _ in CALLS[kind]]
    for call in calls:
        if call["context"] is None:  # ran plainly: exactly the host kernel's output
            _, func, *args = call["args"]
            torch.testing.assert_close(call["output"], func(*args, **call["kwargs"]), rtol=0, atol=0)
    shared = [(call, image) for call, (block, _, image) in zip(calls, CALLS[kind], strict=True) if block]
    assert len(adains) == 2 * len(shared)  # queries, then keys
    for number, ((call, image), position, marker) in enumerate(zip(shared, PE_ARGUMENT[kind], marked, strict=True)):
        _, rotations = call["context"]  # what the marker took: the host's own argument
        torch.testing.assert_close(rotations, _rotations(marker["args"][1 + position]), rtol=0, atol=0)
        reference, targets = (rotations, rotations) if rotations.shape[0] == 1 else (rotations[:1], rotations[1:])
        q, k = call["args"][2], call["args"][3]
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)  # Boogu's grouped keys, as the host expands them
        for x, adain in zip((q, k), adains[2 * number:2 * number + 2], strict=True):
            own, ref_mean, ref_std = adain["args"]
            mean, std = _statistics(_unrotated(x[:1], reference, image))
            torch.testing.assert_close(ref_mean[0, 0], mean[0], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(ref_std[0, 0], std[0], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(own[0], _unrotated(x[1:], targets, image), rtol=1e-5, atol=1e-6)
        _only_the_references_image_reaches_the_targets(call, image)


def _only_the_references_image_reaches_the_targets(call, image):
    """Run the recorded shared call again with the reference row's other tokens' keys and values replaced: the
    targets do not move (the reference's own output does); replacing its image tokens moves them."""
    from style_aligned.nodes.families import dit

    override, func, q, k, v, *rest = call["args"]
    others = torch.ones(k.shape[2], dtype=torch.bool)
    others[image] = False
    token = dit._marked.set(call["context"])
    try:
        def run(tokens):
            k2, v2 = k.clone(), v.clone()
            gen = torch.Generator().manual_seed(3)
            k2[0, :, tokens] = torch.randn(k2[0, :, tokens].shape, generator=gen) * 3
            v2[0, :, tokens] = torch.randn(v2[0, :, tokens].shape, generator=gen) * 3
            return override(func, q, k2, v2, *rest, **call["kwargs"])

        text_changed, image_changed = run(others), run(~others)
    finally:
        dit._marked.reset(token)
    out = call["output"]
    if others.any():
        assert (text_changed[0] - out[0]).abs().amax() > 1e-3
        torch.testing.assert_close(text_changed[1:], out[1:], rtol=1e-5, atol=1e-5)
    assert (image_changed[1:] - out[1:]).abs().amax() > 1e-3


@pytest.mark.parametrize("kind", [k for k in KINDS if k.values[0] != "krea2"])  # Krea 2 takes none
def test_the_hosts_reference_latents_keep_the_image_last(kind):
    """Z-Image's and Boogu's edit references (ReferenceLatent) sit before the image in every row's sequence; the
    reference row still matches the unpatched model and the targets share."""
    import node_helpers

    model = tiny.tiny(kind)
    positive = node_helpers.conditioning_set_values(tiny.conditioning(kind, 3),
                                                    {"reference_latents": [torch.randn(1, 16, 4, 4)]}, append=True)
    style = patched(model, layers="all")
    recorder = recording.CallRecorder.install(style)
    assert torch.isfinite(tiny.sample(style, kind, 3, positive=positive)).all()
    assert "ref_latents" in recorder.calls[0]["c"]
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


# ---------------------------------------------------------------- positions

REAL_ROTARY = {"z_image": ((32, 48, 48), 256), "krea2": ((32, 48, 48), 1000), "boogu": ((40, 40, 40), 10000)}


def _host_embedder(kind, model):
    """The EmbedND the host builds its rotations with (Boogu's sits inside its position embedder)."""
    from style_aligned.nodes.families.dit import _module

    embedder = _module(model.get_model_object("diffusion_model"), family(kind).embedder)
    return getattr(embedder, "rope_embedder", embedder)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", ["tiny", "real"])
def test_the_shift_is_the_hosts_rope_at_positions_one_width_to_the_right(kind, size):
    """Turning a key the host rotated at column c by our ShiftPE angles gives the host's own rotation at column
    c + latent width / patch (float64 keys; the host's embedder and its rotation function)."""
    from comfy.ldm.flux.layers import EmbedND
    from comfy.ldm.flux.math import _apply_rope1
    from style_aligned.core.alignment.positions import rotate_pairs
    from style_aligned.nodes.families.dit import JointAttentionOverride
    from style_aligned.nodes.hooks import Call, Settings

    if size == "tiny":
        embedder = _host_embedder(kind, tiny.tiny(kind))
    else:
        axes, theta = REAL_ROTARY[kind]
        embedder = EmbedND(dim=sum(axes), theta=theta, axes_dim=list(axes))
    ids = torch.tensor([[[7.0, 1.0, 2.0], [7.0, 3.0, 0.0], [7.0, 5.0, 9.0]]])
    moved = ids + torch.tensor([0.0, 0.0, 10.0])  # a latent 20 wide is 10 patch tokens
    key = torch.randn(1, 1, 3, sum(embedder.axes_dim), dtype=torch.float64)
    override = JointAttentionOverride(family(kind), ((tuple(embedder.axes_dim), embedder.theta), 2))
    settings = Settings()
    latent = (3, 16, 1, 6, 20) if kind == "krea2" else (3, 16, 6, 20)
    turn = override._turn(Call(settings, 1, True, latent, settings.opts))

    def rotated(positions):
        return _apply_rope1(key, embedder(positions).to(torch.float64))

    torch.testing.assert_close(rotate_pairs(rotated(ids), turn), rotated(moved), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_the_reference_row_is_unchanged_in_every_positions_mode_and_strength(kind):
    model = tiny.tiny(kind)
    outputs = {}
    for mode, strength in (("shift", "fixed"), ("none", "fixed"), ("untwist", "fixed"), ("shift", "decrease")):
        style = patched(model, reference_positions=mode, reference_strength=strength)
        recorder = recording.CallRecorder.install(style)
        outputs[mode, strength] = tiny.sample(style, kind, 3)
        worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
        assert worst_ref <= 1e-5 and least_target > 1e-4, (mode, strength)
    first = outputs["shift", "fixed"]
    for other, out in outputs.items():
        torch.testing.assert_close(out[0], first[0], rtol=1e-5, atol=1e-5)
        if other != ("shift", "fixed"):
            assert not torch.allclose(out[1:], first[1:], atol=1e-4), other


# ---------------------------------------------------------------- layers

@pytest.mark.parametrize("kind,names", [
    pytest.param("z_image", "layer_0-1", marks=pytest.mark.needs("Z-Image")),
    pytest.param("krea2", "single_0-1", marks=pytest.mark.needs("Krea 2")),
    pytest.param("boogu", "double_0, single_0-1", marks=pytest.mark.needs("Boogu")),
])
def test_bad_layer_names_list_this_familys_blocks(kind, names):
    model = tiny.tiny(kind)
    with pytest.raises(ValueError, match=rf"unknown block 'joint_0'.*blocks are: {names}$"):
        patched(model, layers="custom", custom_layers="joint_0")
    if kind != "boogu":
        with pytest.raises(ValueError, match=r"does not apply to this model; choose one of auto, all"):
            patched(model, layers="double-stream blocks")


@pytest.mark.needs("Boogu")
def test_boogus_presets_choose_its_single_or_double_stream_layers():
    """auto: the single-stream layers (AlignedGen's choice on Flux); the double-stream layer shares in both of
    its attentions (the joint one and the image-only one)."""
    from style_aligned.nodes.families import dit

    model = tiny.tiny("boogu")
    outputs = {mode: tiny.sample(patched(model, layers=mode), "boogu", 3)
               for mode in ("auto", "single-stream blocks", "double-stream blocks", "all")}
    assert torch.equal(outputs["auto"], outputs["single-stream blocks"])
    assert not torch.allclose(outputs["auto"], outputs["double-stream blocks"])
    assert not torch.allclose(outputs["all"], outputs["auto"])
    custom = patched(model, layers="custom", custom_layers="double_0")
    assert torch.equal(tiny.sample(custom, "boogu", 3), outputs["double-stream blocks"])
    with recording.recorded(dit.JointAttentionOverride, context=dit._marked.get) as calls:
        tiny.sample(custom, "boogu", 3, steps=1)
    assert [c["context"][0] for c in calls if c["context"]] == [("double", 0)] * 2 + [("single", 0), ("single", 1)]


@pytest.mark.needs("Boogu")
def test_boogus_grouped_keys_reach_the_kernel_as_the_host_gives_them_where_nothing_is_shared():
    """Calls that are not shared go to the kernel untouched (k/v in their own heads, enable_gqa); the shared ones
    get k/v repeated to the query heads, and no enable_gqa."""
    calls = []

    class Kernel(recording.Shared):
        def __call__(self, func, *args, **kwargs):
            calls.append((args[1].shape[1], kwargs.get("enable_gqa", False)))
            return func(*args, **kwargs)

    model = tiny.tiny("boogu")
    other = model.clone()
    other.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = Kernel()
    tiny.sample(patched(other), "boogu", 3, steps=1)
    heads, kv_heads = tiny.CONFIGS["boogu"]["num_attention_heads"], tiny.CONFIGS["boogu"]["num_kv_heads"]
    # the refiners' and the double-stream layer's two calls run plainly; each single-stream layer shares: the
    # references' attention, then the targets', on keys and values repeated to the query heads
    assert calls == [(kv_heads, True)] * 4 + [(heads, False)] * 4


@pytest.mark.needs("Krea 2")
def test_a_clone_patched_while_another_is_loaded_marks_the_hosts_own_forward():
    """The model stays loaded with the last sampled clone's markers on it; a patch made then must wrap the
    module's own forward (the host's backup), not that clone's marker (markers would pile up, run after run)."""
    from style_aligned.nodes.families.dit import ForwardMarker

    model = tiny.tiny("krea2")
    alone = tiny.sample(patched(model, score_scale=1.5), "krea2", 3)
    tiny.sample(patched(model, reference_positions="none", score_shift=2.0), "krea2", 3)  # now loaded
    later = patched(model, score_scale=1.5)
    assert later.object_patches and not any(isinstance(marker.forward, ForwardMarker)
                                            for marker in later.object_patches.values())
    torch.testing.assert_close(tiny.sample(later, "krea2", 3), alone, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- inverted and saved references (flow models)

REFERENCE_SIZE = (8, 10)  # the inversion node's least latent is 8 x 8


@pytest.fixture(scope="module", params=KINDS)
def inverted(request):
    """(kind, model, two reference latents, their inversions with one and with both): Krea 2's latents with
    their frame axis, as its VAE encodes them."""
    from style_aligned.nodes.reference import DDIMInvertReference

    kind = request.param
    model = tiny.tiny(kind)
    references = torch.randn(tiny.latent(kind, 2, REFERENCE_SIZE).shape,
                             generator=torch.Generator().manual_seed(11))
    trajectories = {k: host.run_node(DDIMInvertReference, model=model, latent={"samples": references[:k]},
                                     positive=tiny.conditioning(kind, 1, seed=12), steps=4, cfg=1.0,
                                     scheduler="simple")[0] for k in (1, 2)}
    return kind, model, references, trajectories


def test_reference_rows_follow_the_trajectory_at_every_call(inverted):
    kind, model, references, trajectories = inverted
    for k in (1, 2):
        inner = model.clone()
        recorder = recording.CallRecorder.install(inner)  # inside our wrapper: sees what the model sees
        style = patched(inner, style_reference=trajectories[k])
        out = tiny.sample(style, kind, k + 2, steps=4, size=REFERENCE_SIZE)
        plain_sharing = tiny.sample(patched(model), kind, k + 2, steps=4, size=REFERENCE_SIZE)
        assert recorder.calls
        for call in recorder.calls:
            expected = trajectories[k].latent_at(call["timestep"])
            torch.testing.assert_close(call["input"][:k], expected.reshape(call["input"][:k].shape), rtol=0,
                                       atol=1e-6)
        torch.testing.assert_close(out[:k], references[:k], rtol=1e-5, atol=1e-5)
        assert (out[k:] - plain_sharing[k:]).abs().amax() > 1e-3  # the targets take the reference


def test_a_saved_reference_loads_bit_identical_and_only_fits_its_family(inverted, tmp_path):
    from style_aligned.nodes.reference import FOLDER, LoadStyleReference, SaveStyleReference

    kind, model, references, trajectories = inverted
    trajectory = trajectories[2]
    assert trajectory.metadata["model_family"] == tiny.CONFIG_CLASSES[kind]
    with host.model_folder(FOLDER, tmp_path):
        name = host.run_node(SaveStyleReference, style_reference=trajectory, filename_prefix=f"{kind}/style")[0]
        loaded = host.run_node(LoadStyleReference, model=model, reference=name)[0]
        other = tiny.tiny("boogu" if kind == "z_image" else "z_image")  # 16 latent channels as well
        with pytest.raises(ValueError, match=rf"was inverted with a {tiny.CONFIG_CLASSES[kind]} model but is used"):
            host.run_node(LoadStyleReference, model=other, reference=name)
    assert torch.equal(loaded.latents, trajectory.latents) and loaded.metadata == trajectory.metadata
    out, direct = (tiny.sample(patched(model, style_reference=reference), kind, 4, steps=4, size=REFERENCE_SIZE)
                   for reference in (loaded, trajectory))
    torch.testing.assert_close(out, direct, rtol=0, atol=0)
    torch.testing.assert_close(out[:2], references, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- Style Aligned Batch Prompts with their encoders

PROMPTS = "a house\na cat\na very tall house with many small windows and a red door"


@functools.cache
def clip_of(kind):
    return tiny.tiny_clip(kind)


@pytest.fixture(autouse=True, scope="module")
def _release_text_encoders():
    """The cached encoders go with the module's tests, not at interpreter exit (when the host is half gone)."""
    yield
    clip_of.cache_clear()


def _batch(kind, **inputs):
    from style_aligned.nodes.batch_prompts import StyleAlignedBatchPrompts

    return host.run_node(StyleAlignedBatchPrompts, **{"clip": clip_of(kind), "prompts": PROMPTS, "style": "",
                                                       "width": 64, "height": 48, **inputs})[:3]  # not the prompt_set


def _host_encode(kind, text):
    import nodes

    return nodes.CLIPTextEncode().encode(clip_of(kind), text)[0]


def _sample_batch(model, positive, negative, latent, cfg=2.0):
    """As the host's KSampler: an empty latent is fitted to the model (Krea 2's frame axis), then sampled."""
    import comfy.sample

    samples = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    noise = comfy.sample.prepare_noise(samples, 3, latent.get("batch_index"))
    return comfy.sample.sample(model, noise, 2, cfg, "euler", "simple", positive, negative, samples,
                               disable_pbar=True, seed=3)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_prompts_gives_the_hosts_encoding_per_row_and_the_familys_latent(kind):
    from style_aligned.nodes.batch_prompts import text_encoder_family

    assert text_encoder_family(clip_of(kind)) is family(kind)
    positive, latent, _ = _batch(kind)
    [[cond, extra]] = positive
    lines = PROMPTS.splitlines()
    assert cond.shape[0] == len(lines) and cond.shape[-1] == tiny.TEXT_WIDTH[kind]
    assert latent["samples"].shape == (3, 16, 6, 8)  # 4-D as EmptySD3LatentImage; the sampler adds Krea 2's frame
    for row, line in enumerate(lines):
        [[alone, _]] = _host_encode(kind, line)
        torch.testing.assert_close(cond[row:row + 1, :alone.shape[1]], alone, rtol=0, atol=1e-6)
    mask = extra.get("attention_mask")  # Z-Image's and Boogu's encoders give one; it hides nothing here
    assert mask is None or (mask.shape == (1, cond.shape[1]) and mask.dtype == torch.long and bool(mask.all()))
    model = tiny.tiny(kind)
    style = patched(model)
    recorder = recording.CallRecorder.install(style)
    out = _sample_batch(style, positive, _host_encode(kind, ""), latent)
    assert out.shape[0] == 3 and torch.isfinite(out).all()
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


@pytest.mark.needs("Boogu")
def test_boogu_takes_a_batch_of_prompts_only_with_one_mask_row():
    """The host makes Boogu's text length (`num_tokens`) from the conditioning's mask summed over all its rows
    (model_base.Omnigen2.extra_conds), and needs it: a mask row per prompt counts every row's tokens and the
    model fails; no mask, or a float one, fails too. One integer row counting the (padded) length runs."""
    positive, latent, _ = _batch("boogu")
    [[cond, extra]] = positive
    model = tiny.tiny("boogu")
    negative = _host_encode("boogu", "")
    assert torch.isfinite(_sample_batch(model, positive, negative, latent)).all()
    for mask in (torch.ones(3, cond.shape[1], dtype=torch.long), torch.ones(1, cond.shape[1]), None):
        rows = {**extra, "attention_mask": mask} if mask is not None else {}
        with pytest.raises((RuntimeError, TypeError)):
            _sample_batch(model, [[cond, rows]], negative, latent)
