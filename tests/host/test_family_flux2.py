"""StyleAlignedPatchModel on the Flux-derived 2026 families in the real upstream host: tiny FLUX.2 dev, FLUX.2
Klein, Chroma Radiance and LongCat-Image built from configs (harness.tiny_flux2). FLUX.2 and LongCat-Image exist
from v0.28 on; Chroma Radiance exists on both hosts and runs on both legs."""

import dataclasses
import functools

import pytest
import torch
from harness import host, recording
from harness import tiny_flux2 as tiny
from style_aligned.nodes.families.dit import BLOCK, JointAttentionOverride
from style_aligned.nodes.hooks import StyleAlignedWrapper
from style_aligned.nodes.patch import StyleAlignedPatchModel

NEW_HOST = pytest.mark.needs("FLUX.2 and LongCat-Image")
KINDS = [pytest.param("flux2", marks=NEW_HOST), pytest.param("flux2_klein", marks=NEW_HOST), "chroma_radiance",
         pytest.param("longcat_image", marks=NEW_HOST)]
NAMES = {"flux2": "FLUX.2 (dev, Klein)", "flux2_klein": "FLUX.2 (dev, Klein)", "chroma_radiance": "Chroma Radiance",
         "longcat_image": "LongCat-Image"}
# an 8 x 8-cell latent: 64 tokens at FLUX.2's patch 1, 4 x 4 patches for the others
IMAGE_TOKENS = {"flux2": 64, "flux2_klein": 64, "chroma_radiance": 16, "longcat_image": 16}
EDIT = (1, 128, 4, 4)  # a FLUX.2 edit reference latent: 16 tokens after the target's image


def patched(model, **knobs):
    return host.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


def with_settings(style, **changes):
    """The patched clone with its Settings changed (strength is not a node input): a new wrapper on a clone. The
    model's sampling goes in too: the strength follows the schedule."""
    wrapper = style.model_options["model_function_wrapper"]
    clone = style.clone()
    settings = dataclasses.replace(wrapper.settings, model_sampling=style.get_model_object("model_sampling"),
                                   **changes)
    clone.set_model_unet_function_wrapper(StyleAlignedWrapper(settings, wrapper.previous, wrapper.per_call))
    return clone


@pytest.fixture(scope="module", params=KINDS)
def kind_model(request):
    return request.param, tiny.TINY[request.param]()


def sampler(kind):
    """sample(model, cfg) of this family's tiny 3-row batch, for the harness's invariants."""
    return lambda model, cfg: tiny.sample(model, kind, 3, cfg=cfg)

def _edit_conditioning(rows):
    """FLUX.2 dev prompts with an edit reference, as the host's ReferenceLatent node appends it."""
    reference_latent = host.extra_nodes("nodes_edit_model").ReferenceLatent
    latent = {"samples": torch.randn(EDIT, generator=torch.Generator().manual_seed(7))}
    return host.run_node(reference_latent, conditioning=tiny.conditioning("flux2", rows), latent=latent)[0]


def test_each_family_is_supported_under_the_name_users_know(kind_model):
    from style_aligned.nodes.families import SUPPORTED, adapter_for

    kind, model = kind_model
    assert adapter_for(model).name == NAMES[kind]
    assert NAMES[kind] in SUPPORTED


@pytest.mark.parametrize("positions,strength", [("shift", "fixed"), ("none", "fixed"), ("untwist", "fixed"),
                                                ("shift", "decrease")])
def test_reference_row_is_unchanged_in_every_position_mode_and_strength(kind_model, positions, strength):
    kind, model = kind_model
    style = with_settings(patched(model, reference_positions=positions), strength=strength)
    recorder = recording.CallRecorder.install(style)
    out = tiny.sample(style, kind, 3)
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4
    if (positions, strength) != ("shift", "fixed"):  # each mode moves the targets its own way
        plain = tiny.sample(patched(model), kind, 3)
        torch.testing.assert_close(out[0], plain[0], rtol=1e-5, atol=1e-5)
        assert not torch.allclose(out[1:], plain[1:], atol=1e-5)


def test_an_override_and_a_block_replace_registered_before_ours_still_run(kind_model):
    kind, model = kind_model
    other = model.clone()
    override, replace = recording.OtherOverride(), recording.OtherBlockReplace()
    other.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = override
    other.set_model_patch_replace(replace, "dit", "single_block", 1)
    style = patched(other)
    recorder = recording.CallRecorder.install(style)
    tiny.sample(style, kind, 3)
    blocks = sum(len(getattr(model.get_model_object("diffusion_model"), name))
                 for name in ("double_blocks", "single_blocks"))
    assert replace.calls == len(recorder.calls) == 2
    assert override.calls >= blocks * len(recorder.calls)  # every block's attention, shared or not, reaches it
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


# ---------------------------------------------------------------- which tokens are the image


def _shared_calls(model, kind, positive=None):
    """The attention calls our override shared in one sampling step (every block selected), as recorded."""
    style = patched(model, layers="all")
    with recording.recorded(JointAttentionOverride) as calls:
        tiny.sample(style, kind, 3, steps=1, positive=positive)
    return [c for c in calls if c["kwargs"].get("transformer_options", {}).get(BLOCK) is not None]


def _replay(record, row, positions, tensors="qkv", scale=1.0):
    """The recorded call run again with row `row`'s tokens at `positions` of q, k and/or v moved by noise:
    its (B, L, heads*dim) output."""
    override, func, *args = record["args"]
    args = list(args)
    gen = torch.Generator().manual_seed(3)
    for index, name in enumerate("qkv"):
        if name in tensors:
            changed = args[index].clone()
            changed[row, :, positions] += scale * torch.randn(changed[row, :, positions].shape, generator=gen)
            args[index] = changed
    with torch.no_grad():
        return override(func, *args, **record["kwargs"])


@pytest.mark.parametrize("kind,edit", [pytest.param("flux2", True, marks=NEW_HOST, id="flux2 with an edit reference"),
                                       pytest.param("flux2_klein", False, marks=NEW_HOST, id="flux2_klein"),
                                       pytest.param("chroma_radiance", False, id="chroma_radiance"),
                                       pytest.param("longcat_image", False, marks=NEW_HOST, id="longcat_image")])
def test_only_the_target_image_tokens_are_shared_and_aligned(kind, edit):
    """In every shared block the image tokens are exactly those after the text (FLUX.2: after its 512 padded
    text tokens) and before any edit reference: the reference row's text and edit-reference keys and values never
    reach a target, and the AdaIN statistics are those of exactly the image tokens (a change at the first or last
    image token moves them, a change anywhere else does not)."""
    model = tiny.TINY[kind]()
    records = _shared_calls(model, kind, _edit_conditioning(3) if edit else None)
    text, image = tiny.text_tokens(kind), IMAGE_TOKENS[kind]
    edits = EDIT[2] * EDIT[3] if edit else 0
    blocks = {r["kwargs"]["transformer_options"][BLOCK] for r in records}
    assert {kind for kind, _ in blocks} == {"double", "single"}
    for record in records:
        length = record["args"][2].shape[2]
        assert length == text + image + edits, "the joint sequence is not text, image, edit references"
        first, last = text, text + image - 1
        outside = [i for i in range(length) if not first <= i <= last]
        base = _replay(record, 0, [], "")
        # the reference row's text and edit tokens: nothing of them reaches a target
        moved = _replay(record, 0, outside)
        torch.testing.assert_close(moved[1:], base[1:], rtol=0, atol=1e-6)
        assert not torch.allclose(moved[0], base[0], atol=1e-4)
        for position in (first, last):  # its first and last image tokens do
            assert not torch.allclose(_replay(record, 0, [position])[1:], base[1:], atol=1e-5)
        # a target's own query statistics: its image tokens' outputs depend on its image queries only
        image_out = slice(first, last + 1)
        moved = _replay(record, 1, outside, "q")
        torch.testing.assert_close(moved[1, image_out], base[1, image_out], rtol=0, atol=1e-6)
        for position, other in ((first, last), (last, first)):
            changed = _replay(record, 1, [position], "q")
            assert not torch.allclose(changed[1, other], base[1, other], atol=1e-6), "AdaIN misses an image token"


@pytest.mark.needs("FLUX.2 and LongCat-Image")
def test_a_flux2_edit_reference_keeps_the_reference_row_and_is_not_shared():
    """The host's ReferenceLatent conditioning (FLUX.2 edit): the reference row still matches the unpatched
    model and the targets still share."""
    model = tiny.tiny_flux2()
    style = patched(model)
    recorder = recording.CallRecorder.install(style)
    out = tiny.sample(style, "flux2", 3, positive=_edit_conditioning(3))
    assert torch.isfinite(out).all() and "ref_latents" in recorder.calls[0]["c"]
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


# ---------------------------------------------------------------- ShiftPE against the host's own rotary embedding


def _host_ids(model, kind, size):
    """The position ids (L, axes) the host's rotary embedder gets for a plain one-row call at `size` cells."""
    import comfy.ldm.flux.layers

    with recording.recorded(comfy.ldm.flux.layers.EmbedND, "forward") as calls:
        tiny.sample(model, kind, 1, steps=1, size=size)
    return calls[-1]["args"][1][0]


@pytest.mark.parametrize("kind", KINDS)
def test_the_shift_is_the_hosts_rope_one_latent_width_to_the_right(kind):
    """A key the host embedded at an image token, turned by our ShiftPE angles, is the key the host embeds at the
    token one latent width to the right: read from the host's own ids for a latent twice as wide (float64;
    LongCat-Image's positions moved past the text included)."""
    import comfy.ldm.flux.math as flux_math
    from style_aligned.core.alignment.positions import rotate_pairs
    from style_aligned.nodes.families import family_for
    from style_aligned.nodes.hooks import Call, Settings

    # the host's own pure-torch rotation (v0.28 sends inference to comfy_kitchen, which is not float64)
    _apply_rope1 = getattr(flux_math, "_apply_rope1", flux_math.apply_rope1)
    model = tiny.TINY[kind]()
    diffusion_model = model.get_model_object("diffusion_model")
    embedder, patch = diffusion_model.pe_embedder, diffusion_model.patch_size
    narrow = tiny.latent(kind, 1, (4, 4)).shape  # the latent whose width the reference keys move by
    columns = -(-narrow[-1] // patch)
    ids = _host_ids(model, kind, (4, 8))  # the same rows, twice the columns
    text = tiny.text_tokens(kind)
    grid = torch.arange(ids.shape[0] - text).reshape(-1, 2 * columns) + text
    here, there = grid[:, :columns].flatten(), grid[:, columns:].flatten()
    family = family_for(type(model.model.model_config).__name__)
    override = JointAttentionOverride(family, ((tuple(embedder.axes_dim), embedder.theta), patch))
    settings = Settings(positions="shift")
    turn = override._turn(Call(settings, 1, True, tuple(narrow), settings.opts))
    key = torch.randn(1, 1, here.numel(), sum(embedder.axes_dim), dtype=torch.float64,
                      generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        pe_here, pe_there = (embedder(ids[None, index]).double() for index in (here, there))
    turned = rotate_pairs(_apply_rope1(key, pe_here), turn)
    torch.testing.assert_close(turned, _apply_rope1(key, pe_there), rtol=0, atol=1e-6)
    assert not torch.allclose(_apply_rope1(key, pe_here), _apply_rope1(key, pe_there), atol=1e-2)


# ---------------------------------------------------------------- inverted and saved style references


@pytest.fixture(scope="module", params=KINDS)
def inverted(request):
    """(kind, model, the reference latent, its trajectory from DDIM Invert Reference: flow inversion)."""
    from style_aligned.nodes.reference import DDIMInvertReference

    kind = request.param
    model = tiny.TINY[kind]()
    reference = torch.randn(tiny.latent(kind, 1).shape, generator=torch.Generator().manual_seed(11))
    trajectory = host.run_node(DDIMInvertReference, model=model, latent={"samples": reference},
                               positive=tiny.conditioning(kind, 1, seed=12), steps=6)[0]
    return kind, model, reference, trajectory


def test_the_reference_row_follows_the_inverted_trajectory_and_ends_as_the_reference(inverted):
    kind, model, reference, trajectory = inverted
    assert trajectory.metadata["model_family"] == type(model.model.model_config).__name__
    inner = model.clone()
    recorder = recording.CallRecorder.install(inner)  # inside our wrapper: sees what the model sees
    style = patched(inner, style_reference=trajectory)
    out = tiny.sample(style, kind, 3, steps=4)
    assert recorder.calls
    for call in recorder.calls:
        torch.testing.assert_close(call["input"][:1], trajectory.latent_at(call["timestep"]), rtol=0, atol=1e-6)
    torch.testing.assert_close(out[:1], reference, rtol=1e-5, atol=1e-5)
    plain_sharing = tiny.sample(patched(model), kind, 3, steps=4)
    assert (out[1:] - plain_sharing[1:]).abs().amax() > 1e-3  # the targets take the inverted reference


def test_a_saved_reference_loads_bit_identical_and_samples_the_same(inverted, tmp_path):
    from style_aligned.nodes.reference import FOLDER, LoadStyleReference, SaveStyleReference

    kind, model, _, trajectory = inverted
    with host.model_folder(FOLDER, tmp_path):
        name = host.run_node(SaveStyleReference, style_reference=trajectory, filename_prefix=f"{kind}/style")[0]
        loaded = host.run_node(LoadStyleReference, model=model, reference=name)[0]
    assert torch.equal(loaded.latents, trajectory.latents) and torch.equal(loaded.sigmas, trajectory.sigmas)
    assert loaded.metadata == trajectory.metadata
    from_file, in_memory = (tiny.sample(patched(model, style_reference=t), kind, 3) for t in (loaded, trajectory))
    assert torch.equal(from_file, in_memory)


# ---------------------------------------------------------------- Style Aligned Batch Prompts with their text encoders

TEXT_KINDS = [pytest.param("flux2", marks=NEW_HOST), pytest.param("flux2_klein", marks=NEW_HOST),
              pytest.param("longcat_image", marks=NEW_HOST), "chroma_radiance"]
LINES = "a house\na very tall house with many small windows and a red door\na cat"


@functools.cache
def clip_of(kind):
    return tiny.tiny_clip(kind)


@pytest.fixture(autouse=True, scope="module")
def _release_clips():
    """The cached encoders go with the module's tests, not at interpreter exit (when the host is half gone)."""
    yield
    clip_of.cache_clear()


@pytest.fixture(params=TEXT_KINDS)
def kind_clip(request):
    return request.param, clip_of(request.param)


def batch(clip, prompts=LINES, **inputs):
    from style_aligned.nodes.batch_prompts import StyleAlignedBatchPrompts

    return host.run_node(StyleAlignedBatchPrompts, **{"clip": clip, "prompts": prompts, "style": "", "width": 128,
                                                       "height": 64, **inputs})[:3]  # positive, latent, prompts


def model_text(model, cond):
    """The text a model's forward gets from a conditioning (FLUX.2's host pads it with zeros in front to 512)."""
    # pooled_output as the host's encoders give it (None): v0.3.64's Chroma Radiance reads the key
    return model.model.extra_conds(cross_attn=cond, noise=torch.zeros(1), pooled_output=None)["c_crossattn"].cond


def test_the_text_encoder_says_the_family(kind_clip):
    """FLUX.2 dev's Mistral and Klein's Qwen3 (both the host's Flux2TEModel), LongCat-Image's Qwen2.5-VL; Chroma
    Radiance's T5 is Chroma's and PixArt's too, so it names no family."""
    from style_aligned.nodes.batch_prompts import text_encoder_family

    kind, clip = kind_clip
    family = text_encoder_family(clip)
    assert (family.name if family else None) == (None if kind == "chroma_radiance" else NAMES[kind])


def test_each_row_reaches_the_model_as_its_prompt_alone(kind_clip):
    """Prompts of different lengths in one batch: what the model gets for every row is what it gets from the
    host's own CLIPTextEncode of that prompt (FLUX.2's text padded with zeros in front, as its host does)."""
    import nodes

    kind, clip = kind_clip
    model = tiny.TINY[kind]()
    cond = batch(clip)[0][0][0]
    lines = LINES.splitlines()
    assert cond.shape[0] == len(lines) and cond.shape[-1] == tiny.CONTEXT[kind]
    batched = model_text(model, cond)
    for row, line in enumerate(lines):
        alone = model_text(model, nodes.CLIPTextEncode().encode(clip, line)[0][0][0])
        tokens = alone.shape[1]  # the rows of families that pad with the empty prompt carry its tokens after
        torch.testing.assert_close(batched[row:row + 1, :tokens], alone, rtol=0, atol=1e-6)
        if kind.startswith("flux2"):
            assert batched.shape[1] == tokens == tiny.FLUX2_TEXT
    assert not torch.allclose(batched[0], batched[1])


@pytest.mark.parametrize("kind,shape", [pytest.param("flux2", (3, 128, 4, 8), marks=NEW_HOST),
                                        pytest.param("flux2_klein", (3, 128, 4, 8), marks=NEW_HOST),
                                        pytest.param("longcat_image", (3, 16, 8, 16), marks=NEW_HOST)])
def test_the_latent_fits_the_family(kind, shape):
    """128 x 64 px: FLUX.2's 128 channels at 1/16 (as EmptyFlux2LatentImage), LongCat-Image's 16 at 1/8."""
    latent = batch(clip_of(kind))[1]
    assert latent["samples"].shape == shape and latent["batch_index"] == [0, 1, 2]


def test_chroma_radiance_takes_its_size_from_a_pixel_latent():
    """Chroma Radiance's batch is sized by the host's EmptyChromaRadianceLatentImage given to the node."""
    empty = host.extra_nodes("nodes_chroma_radiance").EmptyChromaRadianceLatentImage
    given = host.run_node(empty, width=64, height=32, batch_size=3)[0]
    latent = batch(clip_of("chroma_radiance"), latent=given)[1]
    assert latent["samples"] is given["samples"]


@NEW_HOST
def test_guidance_steers_flux2_dev_and_klein_ignores_it():
    import comfy.sample

    for kind, steered in (("flux2", True), ("flux2_klein", False)):
        clip, model = clip_of(kind), tiny.TINY[kind]()
        outs = []
        for guidance in (1.0, 6.0):
            positive, latent = batch(clip, "a house\na cat", guidance=guidance)[:2]
            assert positive[0][1]["guidance"] == guidance
            noise = comfy.sample.prepare_noise(latent["samples"], 3, latent["batch_index"])
            outs.append(comfy.sample.sample(model, noise, 2, 1.0, "euler", "simple", positive, positive,
                                            latent["samples"], disable_pbar=True, seed=3))
        assert bool((outs[0] - outs[1]).abs().amax() > 1e-4) is steered, kind


def test_a_batch_shares_on_the_patched_model(kind_clip):
    """The node's batch through the host's KSampler on the patched model: the reference row is the unpatched
    model's, the targets change."""
    import nodes

    kind, clip = kind_clip
    model = tiny.TINY[kind]()
    given = {}
    if kind == "chroma_radiance":
        given["latent"] = {"samples": torch.zeros(3, 3, 64, 64)}
    positive, latent = batch(clip, **given)[:2]
    negative = nodes.ConditioningZeroOut().zero_out(positive)[0]
    style = patched(model)
    recorder = recording.CallRecorder.install(style)
    out = nodes.KSampler().sample(style, 1, 2, 1.0, "euler", "simple", positive, negative, latent)[0]["samples"]
    assert out.shape == latent["samples"].shape and torch.isfinite(out).all()
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4
