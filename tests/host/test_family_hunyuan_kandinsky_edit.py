"""StyleAlignedPatchModel on HunyuanImage 2.1, Kandinsky 5 Image and Qwen-Image-Edit (2511) in the real host: tiny
models built from configs (harness.tiny_edit_hunyuan_kandinsky).

- HunyuanImage 2.1 runs on both legs: v0.28 attends over (text, byT5 glyph tokens, image), v0.3.64 over (image,
  text); the record reads the order from the model.
- Kandinsky 5 Image (v0.28): image-only self-attention and cross-attention to the text go through one function;
  only the self-attention is shared.
- Qwen-Image-Edit: every row carries its own edit reference latent, appended after the target's image tokens;
  those tokens are never shared with other rows nor in AdaIN's statistics. Edit-2511 ("index_timestep_zero",
  v0.28) doubles the timestep batch inside the model.
"""

import dataclasses

import pytest
import torch
from harness import host, recording
from harness import tiny_edit_hunyuan_kandinsky as tiny
from style_aligned.core.alignment.attention import share
from style_aligned.core.alignment.positions import rotate_by, rotate_pairs
from style_aligned.nodes import hooks
from style_aligned.nodes.families import dit, family_for
from style_aligned.nodes.patch import StyleAlignedPatchModel

KINDS = [pytest.param("hunyuan_image", marks=pytest.mark.needs("HunyuanImage 2.1")),
         pytest.param("kandinsky5", marks=pytest.mark.needs("Kandinsky 5 Image")),
         "qwen_image_edit",  # Qwen-Image and its edit references exist on both hosts
         pytest.param("qwen_image_edit_2511", marks=pytest.mark.needs("Qwen-Image-Edit 2511"))]
CONFIG_CLASS = {"hunyuan_image": "HunyuanImage21", "kandinsky5": "Kandinsky5Image", "qwen_image_edit": "QwenImage",
                "qwen_image_edit_2511": "QwenImage"}
EMBEDDER = {"hunyuan_image": "pe_embedder", "kandinsky5": "rope_embedder_3d", "qwen_image_edit": "pe_embedder",
            "qwen_image_edit_2511": "pe_embedder"}
PATCH = {"hunyuan_image": 1, "kandinsky5": 2, "qwen_image_edit": 2, "qwen_image_edit_2511": 2}


def image_ids(kind, rows, cols):
    """The host's rotary positions of a target's image tokens (rows x cols patch tokens, row-major), as its
    models write them: HunyuanImage (row, column); Kandinsky (frame 0, row, column); Qwen-Image (frame 0, row
    and column about the centre; its edit references sit at frame 1, 2, ...)."""
    row, col = (t.flatten().double() for t in torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij"))
    if kind == "hunyuan_image":
        return torch.stack([row, col], dim=-1)
    if kind == "kandinsky5":
        return torch.stack([torch.zeros_like(row), row, col], dim=-1)
    return torch.stack([torch.zeros_like(row), row - rows // 2, col - cols // 2], dim=-1)


def patched(model, **knobs):
    return host.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


@pytest.fixture(scope="module", params=KINDS)
def kind_model(request):
    return request.param, tiny.TINY[request.param]()


def sampler(kind):
    """sample(model, cfg) of this family's tiny 3-row batch, for the harness's invariants."""
    return lambda model, cfg: tiny.sample(model, kind, 3, cfg=cfg)

def test_the_family_is_the_record_of_its_config_class(kind_model):
    kind, model = kind_model
    assert type(model.model.model_config).__name__ == CONFIG_CLASS[kind]
    assert family_for(CONFIG_CLASS[kind]) is not None


@pytest.mark.parametrize("variant", ["shift", "none", "untwist", "strength decrease"])
def test_the_reference_row_is_unchanged_in_every_position_mode_and_strength(kind_model, variant):
    kind, model = kind_model
    knobs = {"reference_strength": "decrease"} if variant == "strength decrease" else {"reference_positions": variant}
    style = patched(model, score_scale=1.1, **knobs)
    recorder = recording.CallRecorder.install(style)
    out = tiny.sample(style, kind, 3, steps=3)
    worst_ref, _ = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5
    assert (out[1:] - tiny.sample(model, kind, 3, steps=3)[1:]).abs().amax() > 1e-4  # the targets took something


def test_hooks_of_another_pack_registered_before_ours_still_run(kind_model):
    """An attention override and a model wrapper (every family), a "dit" block replace (where the host's replace
    works: not Kandinsky's). Qwen-Image-Edit 2511's blocks get twice the rows of modulation (the edit references
    at timestep 0), which nothing of ours reads by row."""
    kind, model = kind_model
    other = model.clone()
    override, wrapper, replace = recording.OtherOverride(), recording.CallRecorder(), recording.OtherBlockReplace()
    other.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = override
    other.set_model_unet_function_wrapper(wrapper)
    if kind != "kandinsky5":
        other.set_model_patch_replace(replace, "dit", "double_block", 0)
    style = patched(other, score_scale=1.1, score_shift=0.3)
    recorder = recording.CallRecorder.install(style)
    tiny.sample(style, kind, 3)
    assert len(wrapper.calls) == len(recorder.calls) == 2
    assert override.calls >= SHARED_CALLS[kind] * len(recorder.calls)  # every attention, shared or not, reaches it
    if kind != "kandinsky5":
        assert replace.vec_rows == [6 if kind == "qwen_image_edit_2511" else 3] * 2
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


def test_the_shift_is_the_hosts_rope_one_latent_width_to_the_right(kind_model):
    """In float64: a key the host's own embedder rotated at (.., row, column), turned by our ShiftPE angles, is
    the key the host rotates at column + latent width / patch (on the family's width axis)."""
    kind, model = kind_model
    diffusion_model = model.get_model_object("diffusion_model")
    family = family_for(CONFIG_CLASS[kind]).for_model(diffusion_model)
    embedder = getattr(diffusion_model, EMBEDDER[kind])
    size = tiny.SIZES[kind]
    ids = image_ids(kind, size // PATCH[kind], size // PATCH[kind])[None]
    moved = ids.clone()
    moved[..., family.width_axis] += size // PATCH[kind]
    facts = ((tuple(embedder.axes_dim), embedder.theta), family.patch_size(diffusion_model))
    override = dit.JointAttentionOverride(family, facts)
    settings = hooks.Settings(selected=frozenset())
    turn = override._turn(hooks.Call(settings, 1, True, tuple(tiny.latent(kind, 1).shape), settings.opts))
    key = torch.randn(1, 1, ids.shape[1], sum(embedder.axes_dim), dtype=torch.float64)
    turned = rotate_pairs(rotate_by(key, embedder(ids).double()), turn)
    torch.testing.assert_close(turned, rotate_by(key, embedder(moved).double()), rtol=0, atol=1e-6)
    assert (turned - rotate_by(key, embedder(ids).double())).abs().amax() > 0.1  # it does move


# ---------------------------------------------------------------- layout: which tokens are the image

SHARED_CALLS = {"hunyuan_image": 3, "kandinsky5": 2, "qwen_image_edit": 2, "qwen_image_edit_2511": 2}  # per model call


def _image_slice(ids, grid):
    """Where the target's image positions `grid` (I, axes) run in a sequence's positions `ids` (L, axes)."""
    found = [o for o in range(ids.shape[0] - grid.shape[0] + 1) if torch.equal(ids[o:o + grid.shape[0]], grid)]
    assert len(found) == 1, f"the image positions are not one run in the sequence: {found}"
    return slice(found[0], found[0] + grid.shape[0])


def _adain_attention(q, k, v, image, frame, refs=1):
    """The definition in float64, with no reference columns (share_attention off): the targets' image-token
    queries and keys, un-rotated by the host's rotations `frame`, take the reference's per-channel mean and
    std over exactly those positions, are rotated back, then plain attention."""
    q, k, v = (t.double() for t in (q, k, v))
    frame = frame.double().expand(q.shape[0], *frame.shape[1:])

    def aligned(x):
        own = rotate_by(x[:, :, image], frame, inverse=True)
        mean = own.mean(dim=-2, keepdim=True)
        std = (own.var(dim=-2, keepdim=True) + 1e-5).sqrt()
        out = x.clone()
        out[:, :, image] = rotate_by((own - mean) / std * std[:refs] + mean[:refs], frame)
        return torch.cat([x[:refs], out[refs:]])

    q, k = aligned(q), aligned(k)
    return torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1) @ v


def _reference_noise(tensors, refs, where, gen):
    """Copies of q, k, v whose reference rows hold noise at the token positions `where`."""
    noisy = [t.clone() for t in tensors]
    for t in noisy:
        t[:refs, :, where] = torch.randn(t[:refs, :, where].shape, generator=gen)
    return noisy


@pytest.fixture(scope="module")
def layout_run(kind_model):
    """A run at cfg 1 with every block sharing: the positions the host embedded, and every call of the method
    (`share`) as our override made it."""
    kind, model = kind_model
    style = patched(model, layers="all", score_scale=1.1)
    embedder = getattr(model.get_model_object("diffusion_model"), EMBEDDER[kind])
    recorder = recording.CallRecorder.install(style)
    with recording.recorded(embedder, "forward") as positions, recording.recorded(dit, "share") as shares, \
            recording.recorded(dit.JointAttentionOverride) as attention:
        tiny.sample(style, kind, 3)
    return kind, positions, shares, attention, embedder, len(recorder.calls)


def test_only_the_families_shared_calls_reach_the_method(layout_run):
    """Token refiner (HunyuanImage), text blocks and cross-attention (Kandinsky) run plainly: only the blocks'
    joint or image self-attention calls reach `share`."""
    kind, _, shares, attention, _, model_calls = layout_run
    assert len(shares) == SHARED_CALLS[kind] * model_calls
    if kind in ("hunyuan_image", "kandinsky5"):  # the others went to the kernel
        assert len(attention) > len(shares)
    if kind == "kandinsky5":  # cross-attention: queries over the image, keys over the text; never shared
        crossed = [r for r in attention if r["args"][2].shape[-2] != r["args"][3].shape[-2]]
        assert len(crossed) == 2 * model_calls
        shared_lengths = {r["args"][0].shape[-2] for r in shares}
        assert shared_lengths == {(tiny.SIZES[kind] // PATCH[kind]) ** 2}


def test_the_image_tokens_are_where_the_host_put_the_targets_image(layout_run):
    """For every shared call: the image slice is the run of the target's own image positions in the host's
    rotary ids (HunyuanImage: after text and byT5 on v0.28, first on v0.3.64; Qwen-Image-Edit: after the text,
    before the edit references); the reference row's other tokens (text, glyphs, edit references) reach no other
    row, while its image tokens do; AdaIN's statistics are those over exactly these positions, in the
    un-rotated frame of the host's own rotations."""
    kind, positions, shares, _, embedder, _ = layout_run
    side = tiny.SIZES[kind] // PATCH[kind]
    grid = image_ids(kind, side, side)
    by_length = {r["args"][0].shape[1]: r["args"][0] for r in positions}
    gen = torch.Generator().manual_seed(3)
    for record in shares:
        q, k, v, chunks, image, refs, opts, weights, attend, turn, mask, frame, gain = record["args"]
        ids = by_length[q.shape[-2]]
        expected = _image_slice(ids[0].double(), grid)
        assert image == expected
        if kind == "hunyuan_image":
            text = 8 + tiny.BYT5_TOKENS
            assert expected in (slice(text, text + side**2), slice(0, side**2))  # v0.28, v0.3.64
        elif kind.startswith("qwen"):
            assert expected == slice(8, 8 + side**2) and q.shape[-2] == 8 + side**2 + 9  # 3 x 3 edit tokens after
        rest = (chunks, image, refs, opts, weights, attend, turn, mask, frame, gain)
        base = share(q, k, v, *rest)
        outside = torch.ones(q.shape[-2], dtype=torch.bool)
        outside[expected] = False
        if outside.any():
            assert torch.equal(share(*_reference_noise((q, k, v), refs, outside, gen), *rest)[refs:], base[refs:])
        inside = share(*_reference_noise((q, k, v), refs, ~outside, gen), *rest)
        assert (inside[refs:] - base[refs:]).abs().amax() > 1e-3

        rotations = embedder(ids)  # (B or 1, 1, L, pairs, 2, 2)
        plain_sharing = dataclasses.replace(opts, share_attention=False)
        got = share(q, k, v, chunks, image, refs, plain_sharing, weights, attend, turn, mask, frame, gain)
        want = _adain_attention(q, k, v, expected, rotations[:, :, expected], refs)
        scale = want.abs().amax().item()
        assert (got.double() - want).abs().amax().item() <= 1e-4 * scale
        if outside.any():  # statistics over every token would be something else
            wrong = _adain_attention(q, k, v, slice(None), rotations, refs)
            assert (got.double() - wrong)[refs:].abs().amax().item() > 1e-3 * scale


# ---------------------------------------------------------------- inverted references (flow matching)

REFERENCE_KINDS = [pytest.param("hunyuan_image", marks=pytest.mark.needs("HunyuanImage 2.1")),
                   pytest.param("kandinsky5", marks=pytest.mark.needs("Kandinsky 5 Image"))]
REFERENCE_SIZE = 8  # latent cells: the inversion node's smallest (256 px for HunyuanImage's 1/32 latents)


@pytest.fixture(scope="module", params=REFERENCE_KINDS)
def inverted(request):
    """A tiny model, two reference latents and their trajectories inverted by the node (K = 1 and 2)."""
    from style_aligned.nodes.reference import DDIMInvertReference

    kind = request.param
    model = tiny.TINY[kind]()
    references = torch.randn(tiny.latent(kind, 2, REFERENCE_SIZE).shape, generator=torch.Generator().manual_seed(11))
    trajectories = {k: host.run_node(DDIMInvertReference, model=model, latent={"samples": references[:k]},
                                     positive=tiny.conditioning(kind, 1, seed=12), steps=8)[0] for k in (1, 2)}
    return kind, model, references, trajectories


@pytest.mark.parametrize("sampler", ["euler", "dpmpp_2m"])
def test_reference_rows_follow_the_trajectory_at_every_call(inverted, sampler):
    kind, model, references, trajectories = inverted
    for k in (1, 2):
        inner = model.clone()
        recorder = recording.CallRecorder.install(inner)  # inside our wrapper: sees what the model sees
        style = host.run_node(StyleAlignedPatchModel, model=inner, style_reference=trajectories[k])[0]
        out = tiny.sample(style, kind, k + 2, sampler=sampler, steps=4, size=REFERENCE_SIZE)
        assert recorder.calls
        for call in recorder.calls:
            expected = trajectories[k].latent_at(call["timestep"])
            torch.testing.assert_close(call["input"][:k], expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(out[:k], references[:k], rtol=1e-5, atol=1e-5)


def test_targets_take_the_reference(inverted):
    kind, model, _, trajectories = inverted
    with_reference = tiny.sample(host.run_node(StyleAlignedPatchModel, model=model, style_reference=trajectories[1])[0],
                                 kind, 3, steps=4, size=REFERENCE_SIZE)
    plain_sharing = tiny.sample(patched(model), kind, 3, steps=4, size=REFERENCE_SIZE)
    assert (with_reference[1:] - plain_sharing[1:]).abs().amax() > 1e-3


def test_a_saved_reference_loads_bit_identical_and_keeps_its_family(inverted, tmp_path):
    from style_aligned.nodes.reference import FOLDER, LoadStyleReference, SaveStyleReference

    kind, model, _, trajectories = inverted
    trajectory = trajectories[2]
    assert trajectory.metadata["model_family"] == CONFIG_CLASS[kind]
    with host.model_folder(FOLDER, tmp_path):
        name = host.run_node(SaveStyleReference, style_reference=trajectory, filename_prefix=f"{kind}/style")[0]
        loaded = host.run_node(LoadStyleReference, model=model, reference=name)[0]
        other = tiny.TINY["qwen_image_edit"]()  # another family (16 channels, like Kandinsky's)
        with pytest.raises(ValueError, match=rf"was inverted with a {CONFIG_CLASS[kind]} model but is used with"):
            host.run_node(LoadStyleReference, model=other, reference=name)
    assert torch.equal(loaded.latents, trajectory.latents) and loaded.metadata == trajectory.metadata
    runs = [tiny.sample(host.run_node(StyleAlignedPatchModel, model=model, style_reference=t)[0], kind, 4, steps=3,
                        size=REFERENCE_SIZE) for t in (trajectory, loaded)]
    assert torch.equal(*runs)


# ---------------------------------------------------------------- batch prompts (the host's text encoders, tiny)

def _batch(clip, prompts, **inputs):
    from style_aligned.nodes.batch_prompts import StyleAlignedBatchPrompts

    return host.run_node(StyleAlignedBatchPrompts, **{"clip": clip, "prompts": prompts, "style": "", "width": 256,
                                                       "height": 128, **inputs})[:3]  # positive, latent, prompts


def _host_encode(clip, text):
    import nodes

    return nodes.CLIPTextEncode().encode(clip, text)[0]


GLYPHS = 'a shop sign that reads "OPEN"\na cat\na poster with the words "BIG SALE" in red letters'


@pytest.mark.needs("HunyuanImage 2.1")
def test_hunyuan_image_batches_glyph_tokens_without_a_text_mask():
    """Rows are the host's own encodings; byT5 glyph tokens (quoted text) padded with zeros, blank for a prompt
    without quotes; no attention mask (the host's model fails on one of more than one row: shown below); a
    64-channel latent at 1/32; the batch samples with the patch at cfg > 1."""
    from style_aligned.nodes.batch_prompts import text_encoder_family

    clip = tiny.tiny_hunyuan_image_clip()
    assert text_encoder_family(clip).name == "HunyuanImage 2.1"
    (positive, latent, names) = _batch(clip, GLYPHS)
    [[cond, extra]] = positive
    assert latent["samples"].shape == (3, 64, 4, 8) and "attention_mask" not in extra
    glyphs = extra["conditioning_byt5small"]
    lines = GLYPHS.splitlines()
    for row, line in enumerate(lines):
        [[alone, alone_extra]] = _host_encode(clip, line)
        torch.testing.assert_close(cond[row, :alone.shape[1]], alone[0], rtol=0, atol=1e-6)
        own = alone_extra.get("conditioning_byt5small")
        length = 0 if own is None else own.shape[1]
        if own is not None:
            torch.testing.assert_close(glyphs[row, :length], own[0], rtol=0, atol=1e-6)
        assert not glyphs[row, length:].any()
    assert names.splitlines() == lines
    model = tiny.tiny_hunyuan_image()
    negative = _host_encode(clip, "blurry")
    style = patched(model)
    recorder = recording.CallRecorder.install(style)
    tiny.sample(style, "hunyuan_image", 3, cfg=3.5, positive=positive, negative=negative, size=None)
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4
    masked = [[cond, {**extra, "attention_mask": torch.ones(3, cond.shape[1])}]]
    masked[0][1]["attention_mask"][1, -1] = 0
    with pytest.raises(RuntimeError):  # why the node sends none: the host's HunyuanImage 2.1 forward
        tiny.sample(model, "hunyuan_image", 3, positive=masked, negative=negative)


@pytest.mark.needs("Kandinsky 5 Image")
def test_kandinsky5_batches_its_pooled_clip_rows():
    from style_aligned.nodes.batch_prompts import text_encoder_family

    clip = tiny.tiny_kandinsky5_clip()
    assert text_encoder_family(clip).name == "Kandinsky 5 Image"
    positive, latent, _ = _batch(clip, "a house\na very tall house with many small windows\na bicycle")
    [[cond, extra]] = positive
    assert latent["samples"].shape == (3, 16, 16, 32) and extra["pooled_output"].shape == (3, tiny.CONTEXT)
    for row, line in enumerate(("a house", "a very tall house with many small windows", "a bicycle")):
        [[alone, alone_extra]] = _host_encode(clip, line)
        torch.testing.assert_close(cond[row, :alone.shape[1]], alone[0], rtol=0, atol=1e-6)
        torch.testing.assert_close(extra["pooled_output"][row], alone_extra["pooled_output"][0], rtol=0, atol=1e-6)
    model = tiny.tiny_kandinsky5()
    style = patched(model)
    recorder = recording.CallRecorder.install(style)
    tiny.sample(style, "kandinsky5", 3, cfg=4.0, positive=positive, negative=_host_encode(clip, "blurry"), size=None)
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


EDIT_PIXELS = 64


def _edit_rows(clip, vae, instructions, sizes=None):
    """The host's own nodes, one row per image: Text Encode Qwen Image Edit Plus (the image read by the
    vision-language encoder), Reference Latent (the image VAE-encoded), combined in order."""
    from comfy_extras.nodes_edit_model import ReferenceLatent
    from comfy_extras.nodes_qwen import TextEncodeQwenImageEditPlus

    import nodes

    combined = None
    for row, instruction in enumerate(instructions):
        height, width = (sizes or {}).get(row, (EDIT_PIXELS, EDIT_PIXELS))
        image = torch.rand(1, height, width, 3, generator=torch.Generator().manual_seed(20 + row))
        encoded = host.call(TextEncodeQwenImageEditPlus, clip=clip, prompt=instruction, image1=image)["result"][0]
        reference = nodes.VAEEncode().encode(vae, image)[0]
        row_conditioning = host.call(ReferenceLatent, conditioning=encoded, latent=reference)["result"][0]
        combined = row_conditioning if combined is None else nodes.ConditioningCombine().combine(
            combined, row_conditioning)[0]
    return combined


EDIT_INSTRUCTIONS = ("keep this painting as it is", "repaint this photo as a watercolor",
                     "repaint this drawing as a watercolor with a red roof")


@pytest.fixture(scope="module")
def edit_kit():
    from harness import tiny_dit_text

    clip = tiny.with_tiny_vision(tiny_dit_text.tiny_dit_clip("qwen_image"))
    return clip, tiny_dit_text.tiny_dit_vae("qwen_image")


@pytest.mark.needs("Qwen-Image-Edit 2511")  # its tiny edit model takes the 2511 model's arguments
def test_edits_of_different_images_are_one_batch_of_rows(edit_kit):
    """Combined edit conditionings (one per image) become one row each, in order: their own tokens first (brought
    to one length as prompt lines are), their own edit reference latent, an empty latent of the images' size;
    the reference row samples as the unpatched model while the targets take its style."""
    import nodes

    clip, vae = edit_kit
    combined = _edit_rows(clip, vae, EDIT_INSTRUCTIONS)
    (positive, latent, names) = _batch(clip, "style\nphoto\ndrawing", conditioning=combined, style="watercolor")
    [[cond, extra]] = positive
    assert names == "style\nphoto\ndrawing"
    assert latent["samples"].shape == (3, 16, EDIT_PIXELS // 8, EDIT_PIXELS // 8)
    assert extra["width"] == extra["height"] == EDIT_PIXELS
    [references] = extra["reference_latents"]
    for row, (entry, entry_extra) in enumerate(combined):
        torch.testing.assert_close(cond[row, :entry.shape[1]], entry[0], rtol=0, atol=0)
        torch.testing.assert_close(references[row:row + 1], entry_extra["reference_latents"][0], rtol=0, atol=0)
    for model in (tiny.tiny_qwen_image_edit(), tiny.tiny_qwen_image_edit(timestep_zero=True)):
        if model.model.diffusion_model.default_ref_method == "index_timestep_zero" and host.missing(
                "Qwen-Image-Edit 2511"):
            continue
        negative = nodes.ConditioningZeroOut().zero_out(positive)[0]
        style = patched(model, score_scale=1.1, score_shift=0.3)
        recorder = recording.CallRecorder.install(style)
        out = tiny.sample(style, "qwen_image_edit", 3, cfg=4.0, positive=positive, negative=negative)
        worst_ref, _ = recording.rows_against_unpatched(model, recorder)
        assert worst_ref <= 1e-5
        plain = tiny.sample(model, "qwen_image_edit", 3, cfg=4.0, positive=positive, negative=negative)
        assert (out[1:] - plain[1:]).abs().amax() > 1e-4


def test_edit_rows_of_different_sizes_are_refused_with_what_to_do(edit_kit):
    clip, vae = edit_kit
    combined = _edit_rows(clip, vae, EDIT_INSTRUCTIONS[:2], sizes={1: (EDIT_PIXELS, 2 * EDIT_PIXELS)})
    with pytest.raises(ValueError, match=r"differ in size .* scale every image to one width and height"):
        _batch(clip, "", conditioning=combined)
