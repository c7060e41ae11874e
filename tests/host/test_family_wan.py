"""Style-aligned clips on Wan 2.1 / 2.2 (WAN21_T2V, WAN22_T2V) in the real host: tiny models built from configs.
A target clip attends to its own tokens and to every token of the reference clip; the cross-attention to the
text is never touched, even where it cannot be told from the self-attention by its shape."""

import dataclasses
import functools

import pytest
import torch
from harness import host, recording, tiny_wan
from style_aligned.nodes.batch_prompts import StyleAlignedBatchPrompts, text_encoder_family
from style_aligned.nodes.families import wan
from style_aligned.nodes.families.dit import DitAdapter, ForwardMarker, JointAttentionOverride
from style_aligned.nodes.hooks import CALL, Call, Settings
from style_aligned.nodes.patch import StyleAlignedPatchModel
from style_aligned.nodes.reference import DDIMInvertReference

KINDS = list(tiny_wan.KINDS)
AXES, THETA, PATCH = (12, 10, 10), 10000.0, (1, 2, 2)  # the tiny models' 32-channel heads
BLOCK = ("block", 0)


def patched(model, **knobs):
    return host.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


@pytest.fixture(scope="module", params=KINDS)
def kind_model(request):
    return request.param, tiny_wan.tiny_wan(request.param)


def sampler(kind):
    """sample(model, cfg) of this family's tiny 3-row batch, for the harness's invariants."""
    return lambda model, cfg: tiny_wan.sample(model, kind, 3, cfg=cfg)

# ---------------------------------------------------------------- the invariants of every DiT family


def test_one_clip_runs_as_the_plain_model(kind_model):
    kind, model = kind_model
    plain = tiny_wan.sample(model, kind, 1)
    torch.testing.assert_close(tiny_wan.sample(patched(model), kind, 1), plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("knobs", [{"reference_positions": "shift"}, {"reference_positions": "none"},
                                   {"reference_positions": "untwist"}, {"strength": "decrease"}])
def test_the_reference_clip_is_unchanged_in_every_position_mode_and_strength(knobs):
    model = tiny_wan.tiny_wan("wan21")
    style = patched(model, score_scale=1.5, **{k: v for k, v in knobs.items() if k != "strength"})
    if "strength" in knobs:  # not a node input: the Settings the wrapper hands every call
        wrapper = style.model_options["model_function_wrapper"]
        wrapper.settings = dataclasses.replace(wrapper.settings, strength=knobs["strength"],
                                               model_sampling=model.get_model_object("model_sampling"))
    recorder = recording.CallRecorder.install(style)
    tiny_wan.sample(style, "wan21", 3, steps=3)
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4


def test_reference_positions_move_the_targets_not_the_reference():
    model = tiny_wan.tiny_wan("wan21")
    shift, none = (tiny_wan.sample(patched(model, reference_positions=mode), "wan21", 3)
                   for mode in ("shift", "none"))
    torch.testing.assert_close(shift[0], none[0], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(shift[1:], none[1:], atol=1e-4)


class _Counting(recording.Shared):
    """Another pack's hook of any of the three kinds (object patch on a forward, attention override, dit
    block replace): counts its calls and runs what it wraps."""

    def __init__(self, forward=None):
        self.forward = forward
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.forward is not None:  # object patch
            return self.forward(*args, **kwargs)
        if len(args) == 2 and isinstance(args[0], dict):  # dit replace (args, extra)
            return args[1]["original_block"](args[0])
        func, *rest = args  # attention override
        return func(*rest, **kwargs)


def test_another_packs_object_patch_override_and_block_replace_still_run():
    model = tiny_wan.tiny_wan("wan21")
    other = model.clone()
    attention = model.get_model_object("diffusion_model").blocks[0].self_attn
    forward, override, replace = _Counting(attention.forward), _Counting(), _Counting()
    other.add_object_patch("diffusion_model.blocks.0.self_attn.forward", forward)
    other.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = override
    other.set_model_patch_replace(replace, "dit", "double_block", 1)
    style = patched(other)
    recorder = recording.CallRecorder.install(style)
    tiny_wan.sample(style, "wan21", 3)
    calls = len(recorder.calls)
    assert forward.calls == replace.calls == calls
    assert override.calls == 6 * calls  # per block: the shared self-attention's reference rows and targets, the cross
    worst_ref, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_ref <= 1e-5 and least_target > 1e-4
    again = patched(style)  # patching twice replaces ours and keeps theirs
    assert again.object_patches["diffusion_model.blocks.0.self_attn.forward"].previous is forward
    DitAdapter.remove(again)
    assert again.object_patches["diffusion_model.blocks.0.self_attn.forward"] is forward
    assert again.model_options["transformer_options"]["optimized_attention_override"] is override


def test_layer_presets_and_custom_blocks():
    model = tiny_wan.tiny_wan("wan21")
    outputs = {mode: tiny_wan.sample(patched(model, layers=mode), "wan21", 3) for mode in ("auto", "all")}
    assert torch.equal(outputs["auto"], outputs["all"])  # auto shares in every block
    one = tiny_wan.sample(patched(model, layers="custom", custom_layers="block_1"), "wan21", 3)
    assert not torch.allclose(one, outputs["auto"])
    with pytest.raises(ValueError, match=r"unknown block 'single_0'.*block_0-1"):
        patched(model, layers="custom", custom_layers="single_0")
    with pytest.raises(ValueError, match=r"does not apply to this model; choose one of auto, all"):
        patched(model, layers="single-stream blocks")


def test_the_active_range_limits_sharing():
    model = tiny_wan.tiny_wan("wan21")
    plain = tiny_wan.sample(model, "wan21", 3, steps=3)
    empty = tiny_wan.sample(patched(model, start_percent=0.5, end_percent=0.5), "wan21", 3, steps=3)
    torch.testing.assert_close(empty, plain, rtol=1e-5, atol=1e-5)
    late = tiny_wan.sample(patched(model, start_percent=0.5, end_percent=1.0), "wan21", 3, steps=3)
    full = tiny_wan.sample(patched(model), "wan21", 3, steps=3)
    assert not torch.allclose(late[1:], full[1:], atol=1e-4) and not torch.allclose(late[1:], plain[1:], atol=1e-4)


# ---------------------------------------------------------------- cross-attention is never considered

def test_cross_attention_calls_are_the_unpatched_models_even_when_shaped_like_the_self_attention():
    """12 text tokens and a 2-frame 4 x 6 clip (12 tokens): the cross-attention's keys are as long as its queries,
    as umT5's 512 padded tokens are for a 512-token clip. Every attention call of the patched model is recorded
    (per block: self, then cross); each cross call's inputs for the reference clip and its output for every clip
    equal the unpatched model's for the same inputs, while the targets' self-attention is shared."""
    import comfy.ldm.wan.model as wan_model

    model = tiny_wan.tiny_wan("wan21")
    positive = tiny_wan.wan_conditioning(3, tokens=12)
    kwargs = dict(frames=2, positive=positive, steps=1)
    with recording.recorded(wan_model, "optimized_attention") as plain_calls:
        tiny_wan.sample(model, "wan21", 3, **kwargs)
    with recording.recorded(wan_model, "optimized_attention") as calls:
        tiny_wan.sample(patched(model), "wan21", 3, **kwargs)
    assert len(calls) == len(plain_calls) == 4  # one model call, 2 blocks x (self, cross)
    kernel = wan_model.optimized_attention
    for index, (call, plain) in enumerate(zip(calls, plain_calls, strict=True)):
        q, k, v = call["args"][:3]
        assert q.shape == k.shape  # the shape cannot tell the two apart
        own = kernel(q, k, v, heads=call["kwargs"]["heads"])  # the host's kernel, no hooks
        if index % 2:  # cross-attention: untouched
            torch.testing.assert_close(call["output"], own, rtol=0, atol=0)
            for got, want in zip(call["args"][:3], plain["args"][:3], strict=True):
                torch.testing.assert_close(got[:1], want[:1], rtol=1e-6, atol=1e-6)
            if index == 1:  # the first block's cross-attention: the targets' queries moved by the shared self
                assert not torch.allclose(q[1:], plain["args"][0][1:], atol=1e-5)
        else:  # self-attention: the reference clip plain, the targets shared
            torch.testing.assert_close(call["output"][:1], own[:1], rtol=1e-5, atol=1e-6)
            assert not torch.allclose(call["output"][1:], own[1:], atol=1e-4)


def test_a_self_attention_over_more_tokens_than_the_clip_runs_plainly():
    """Extra tokens in the self-attention (a reference-conv or in-context latent the model appends) are not the
    clip's: the call is not shared rather than guessed."""
    from comfy.ldm.modules.attention import attention_pytorch

    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2 * 6 + 4, 64, generator=gen, dtype=torch.float64) for _ in range(3))
    freqs = rope_rotations(2, 2, 3).unsqueeze(0)[:, :, None]
    out = _shared(q, k, v, torch.cat([freqs, freqs[:, :4]], dim=1), _call(frames=2))
    torch.testing.assert_close(out, attention_pytorch(q, k, v, 2), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- the method on Wan's layout, float64

def rope_rotations(frames, rows, columns, width_shift=0):
    """Wan's 3-axis RoPE from its definition, float64: token (t, h, w) in frame-major order, channel pair j of
    axis a turned by pos_a * THETA^(-2j / AXES[a]); (L, P, 2, 2) rotation matrices [[cos, -sin], [sin, cos]]."""
    t, h, w = torch.meshgrid(torch.arange(frames), torch.arange(rows), torch.arange(columns), indexing="ij")
    positions = [t.flatten(), h.flatten(), w.flatten() + width_shift]
    angles = torch.cat([p.double()[:, None] * THETA ** (-2 * torch.arange(d // 2, dtype=torch.float64) / d)
                        for p, d in zip(positions, AXES, strict=True)], dim=1)
    cos, sin = angles.cos(), angles.sin()
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)


def rotate(x, rotations):
    """x (..., L, 2P) with every channel pair multiplied by its rotation matrix (L, P, 2, 2)."""
    return (rotations @ x.unflatten(-1, (-1, 2)).unsqueeze(-1)).squeeze(-1).flatten(-2)


def explicit(q, k, v, frames, rows, columns, heads=2, scale=1.0, shift=0.0):
    """StyleAligned on one chunk of Wan clips from the definitions, float64. q, k, v (B, L, heads*dim) as the
    self-attention passes them (q and k rotated by the RoPE of their positions); row 0 is the reference. Each
    target: AdaIN of its un-rotated queries and keys to the reference's un-rotated statistics (per head and
    channel over all the clip's tokens, unbiased variance, eps 1e-5), rotated back; keys [own ; scale x the
    reference's keys at positions one clip width to the right], values [own ; the reference's], logits of the
    reference's keys + shift."""
    rot = rope_rotations(frames, rows, columns)
    shifted = rope_rotations(frames, rows, columns, width_shift=columns)
    q, k, v = (t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v))  # (B, heads, L, dim)
    q_raw, k_raw = rotate(q, rot.transpose(-1, -2)), rotate(k, rot.transpose(-1, -2))

    def adain(x, ref):
        mean, std = x.mean(-2, keepdim=True), (x.var(-2, keepdim=True) + 1e-5).sqrt()
        ref_mean, ref_std = ref.mean(-2, keepdim=True), (ref.var(-2, keepdim=True) + 1e-5).sqrt()
        return (x - mean) / std * ref_std + ref_mean

    def attend(q, k, v, bias):
        return torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + bias, dim=-1) @ v

    tokens = q.shape[2]
    rows_out = [attend(q[0], k[0], v[0], 0.0)]
    reference_keys = scale * rotate(k_raw[0], shifted)
    bias = torch.cat([torch.zeros(tokens, dtype=torch.float64), torch.full((tokens,), shift, dtype=torch.float64)])
    for t in range(1, q.shape[0]):
        q_t, k_t = rotate(adain(q_raw[t], q_raw[0]), rot), rotate(adain(k_raw[t], k_raw[0]), rot)
        rows_out.append(attend(q_t, torch.cat([k_t, reference_keys], -2), torch.cat([v[t], v[0]], -2), bias))
    return torch.stack(rows_out).transpose(1, 2).flatten(2)


def _call(frames, height=4, width=6, batch=3, **opts):
    from style_aligned.core.alignment.attention import SharingOptions

    settings = Settings(opts=SharingOptions(**opts), selected=frozenset({BLOCK}))
    return Call(settings, 1, True, (batch, 16, frames, height, width), settings.opts)


def _shared(q, k, v, freqs, call, heads=2):
    """An attention call of the host's kernel inside a marked Wan self-attention (as the block runs it), through
    our override: q, k, v (B, L, heads*dim), freqs (1, L, 1, P, 2, 2) as Wan's rope_encode makes them."""
    from comfy.ldm.modules.attention import optimized_attention
    from comfy.ldm.wan.model import WanSelfAttention

    options = {"optimized_attention_override": JointAttentionOverride(wan.FAMILY, ((AXES, THETA), PATCH)), CALL: call}

    def forward(x, freqs, transformer_options):
        return optimized_attention(q, k, v, heads=heads, transformer_options=transformer_options)

    return ForwardMarker(BLOCK, WanSelfAttention(64, heads, operation_settings=_operations()), "freqs",
                         forward)(None, freqs, transformer_options=options)


def _operations():
    import comfy.ops

    return {"operations": comfy.ops.disable_weight_init, "device": "meta", "dtype": torch.float64}


def _rotated_inputs(frames, rows=2, columns=3, batch=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    rot = rope_rotations(frames, rows, columns)
    q, k, v = (torch.randn(batch, frames * rows * columns, 64, generator=gen, dtype=torch.float64) * 2
               for _ in range(3))
    q, k = (rotate(t.unflatten(-1, (2, -1)).transpose(1, 2), rot).transpose(1, 2).flatten(2) for t in (q, k))
    return q, k, v, rot.unsqueeze(0)[:, :, None]


@pytest.mark.parametrize("frames", [1, 3])
def test_shared_self_attention_is_the_explicit_method_over_3_axis_rope_with_the_width_shift(frames):
    q, k, v, freqs = _rotated_inputs(frames)
    out = _shared(q, k, v, freqs, _call(frames, score_scale=1.1, score_shift=0.3))
    want = explicit(q, k, v, frames, 2, 3, scale=1.1, shift=0.3)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-10)


def test_our_rope_definition_is_the_hosts():
    model = tiny_wan.tiny_wan("wan21").get_model_object("diffusion_model")
    host_freqs = model.rope_encode(3, 4, 6, device=torch.device("cpu"), dtype=torch.float32)  # latent frames, h, w
    assert host_freqs.shape == (1, 3 * 2 * 3, 1, sum(AXES) // 2, 2, 2)
    assert tuple(model.rope_embedder.axes_dim) == AXES and model.rope_embedder.theta == THETA
    torch.testing.assert_close(host_freqs[0, :, 0].double(), rope_rotations(3, 2, 3), rtol=0, atol=2e-6)


def test_every_frame_of_a_target_sees_every_frame_of_the_reference():
    frames, per_frame = 3, 6
    q, k, v, freqs = _rotated_inputs(frames)
    call = _call(frames)
    base = _shared(q, k, v, freqs, call)
    for frame in range(frames):
        moved = v.clone()
        moved[0, frame * per_frame:(frame + 1) * per_frame] += 1.0  # the reference's values of one frame
        out = _shared(q, k, moved, freqs, call)
        change = (out - base)[1:].unflatten(1, (frames, per_frame)).abs().amax(dim=(2, 3))  # (targets, frames)
        assert (change > 1e-6).all(), f"a target frame does not see reference frame {frame}: {change}"


def test_the_shift_is_the_hosts_rope_one_clip_width_to_the_right():
    """A key the host turned at (t, h, w), turned by our ShiftPE angles, is the host's key at (t, h, w + the
    clip's width in tokens): rotary axis 2 is the width."""
    import comfy.ldm.flux.math
    from style_aligned.core.alignment.positions import rotate_pairs

    # v0.28's apply_rope1 dispatches to comfy_kitchen kernels, which take no float64; its eager twin does
    apply_rope1 = getattr(comfy.ldm.flux.math, "_apply_rope1", comfy.ldm.flux.math.apply_rope1)
    diffusion_model = tiny_wan.tiny_wan("wan21").get_model_object("diffusion_model")
    embedder = diffusion_model.rope_embedder
    override = JointAttentionOverride(wan.FAMILY, DitAdapter(wan.FAMILY, diffusion_model)._facts())
    ids = torch.tensor([[[0.0, 1.0, 2.0], [2.0, 0.0, 0.0], [1.0, 3.0, 5.0]]])  # (t, h, w)
    moved = ids + torch.tensor([0.0, 0.0, 3.0])  # a latent 6 wide is 3 tokens at patch 2

    def turned_by_host(key, ids):
        return apply_rope1(key, embedder(ids).movedim(1, 2).double())

    key = torch.randn(1, 3, 1, sum(AXES), dtype=torch.float64)
    turn = override._turn(_call(frames=3))
    torch.testing.assert_close(rotate_pairs(turned_by_host(key, ids), turn), turned_by_host(key, moved),
                               rtol=0, atol=1e-6)


# ---------------------------------------------------------------- one press: a set of clips from prompts

CLIP_PROMPTS = "a house\na cat\na bicycle\na lake"


@functools.cache
def wan_clip():
    return tiny_wan.tiny_wan_clip()


@pytest.fixture(autouse=True, scope="module")
def _release_clip():
    yield
    wan_clip.cache_clear()


def batch(**inputs):
    return host.run_node(StyleAlignedBatchPrompts, **{"clip": wan_clip(), "prompts": CLIP_PROMPTS, "style": "",
                                                       "width": 64, "height": 48, **inputs})[:3]  # not the prompt_set


def ksampler(model, positive, latent, cfg=1.0, steps=2):
    """The host's KSampler node (it fits an empty latent to the model), on a zero negative."""
    import nodes

    negative = [[torch.zeros_like(positive[0][0][:1]), {}]]
    return nodes.KSampler().sample(model, 3, steps, cfg, "euler", "simple", positive, negative, latent)[0]["samples"]


def test_each_clip_row_is_the_hosts_own_umt5_encoding_of_its_prompt():
    import nodes

    clip = wan_clip()
    assert text_encoder_family(clip) is wan.FAMILY
    cond = batch()[0][0][0]
    assert cond.shape == (4, 512, tiny_wan.TEXT_DIM)  # umT5 pads every prompt to 512 tokens
    for row, line in enumerate(CLIP_PROMPTS.splitlines()):
        torch.testing.assert_close(cond[row:row + 1], nodes.CLIPTextEncode().encode(clip, line)[0][0][0], rtol=0,
                                   atol=1e-6)
    assert not torch.allclose(cond[0], cond[1])


@pytest.mark.parametrize("length,frames", [(1, 1), (9, 3), (49, 13)])
def test_the_batch_is_clips_of_length_video_frames(length, frames):
    latent = batch(length=length)[1]
    assert latent["samples"].shape == (4, 16, frames, 6, 8)  # Wan 2.1's latent: 16 channels at 1/8
    assert latent["downscale_ratio_spacial"] == 8 and latent["batch_index"] == [0, 1, 2, 3]


def test_one_press_gives_clips_whose_first_is_the_reference():
    model = tiny_wan.tiny_wan("wan21")
    positive, latent, _ = batch(length=9)
    style = patched(model)
    out, plain = ksampler(style, positive, latent), ksampler(model, positive, latent)
    assert out.shape == (4, 16, 3, 6, 8)
    torch.testing.assert_close(out[0], plain[0], rtol=1e-5, atol=1e-5)
    assert (out[1:] - plain[1:]).abs().amax() > 1e-3


@pytest.mark.needs("empty latents fitted by their downscale ratio")
def test_the_host_fits_the_empty_clips_to_wan_22():
    positive, latent, _ = batch(length=9)
    out = ksampler(patched(tiny_wan.tiny_wan("wan22")), positive, latent)
    assert out.shape == (4, 48, 3, 3, 4)  # 48 channels at 1/16


def test_wan_22_clips_from_the_hosts_wan22_latent_node():
    """The way on hosts that do not fit empty latents (v0.3.64): Wan22ImageToVideoLatent's clip (it makes one row
    without a start image), repeated to the batch by Repeat Latent Batch, as the latent."""
    import nodes

    wan22_latent = host.extra_nodes("nodes_wan").Wan22ImageToVideoLatent
    one = host.run_node(wan22_latent, vae=tiny_wan.tiny_wan_vae("wan22"), width=64, height=48, length=9)[0]
    given = host.run_node(nodes.RepeatLatentBatch, samples=one, amount=4)[0]
    positive, latent, _ = batch(latent=given)
    model = tiny_wan.tiny_wan("wan22")
    out, plain = ksampler(patched(model), positive, latent), ksampler(model, positive, latent)
    assert out.shape == (4, 48, 3, 3, 4)
    torch.testing.assert_close(out[0], plain[0], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- a user's clip as the reference

@pytest.fixture(scope="module", params=KINDS)
def inverted(request):
    kind = request.param
    model = tiny_wan.tiny_wan(kind)
    clip = torch.randn(1, tiny_wan.KINDS[kind][1], 3, 8, 8, generator=torch.Generator().manual_seed(11))
    trajectory = host.run_node(DDIMInvertReference, model=model, latent={"samples": clip},
                               positive=tiny_wan.wan_conditioning(1, seed=12), steps=6)[0]
    return kind, model, clip, trajectory


def test_an_inverted_clip_keeps_its_frames(inverted):
    kind, _, clip, trajectory = inverted
    assert trajectory.frames == 3 and trajectory.latent_shape == tuple(clip.shape[1:])
    assert trajectory.metadata["frames"] == "3"
    assert trajectory.metadata["model_family"] == tiny_wan.KINDS[kind][0]


@pytest.mark.parametrize("sampler", ["euler", "dpmpp_2m"])
def test_the_reference_clip_follows_its_trajectory_at_every_call_and_ends_as_itself(inverted, sampler):
    kind, model, clip, trajectory = inverted
    inner = model.clone()
    recorder = recording.CallRecorder.install(inner)  # inside our wrapper: sees what the model sees
    style = patched(inner, style_reference=trajectory)
    latent = torch.zeros(3, *clip.shape[1:])
    out = tiny_wan.sample(style, kind, 3, sampler=sampler, steps=4, latent=latent)
    assert recorder.calls
    for call in recorder.calls:
        torch.testing.assert_close(call["input"][:1], trajectory.latent_at(call["timestep"]), rtol=0, atol=1e-6)
    torch.testing.assert_close(out[:1], clip, rtol=1e-5, atol=1e-5)
    assert (out[1:] - tiny_wan.sample(patched(model), kind, 3, steps=4, latent=latent)[1:]).abs().amax() > 1e-3


def test_batch_prompts_take_the_reference_clips_shape(inverted):
    _, _, clip, trajectory = inverted
    latent = batch(style_reference=trajectory, length=49)[1]
    assert latent["samples"].shape == (4, *clip.shape[1:])  # its channels and frames, not length's
    assert "downscale_ratio_spacial" not in latent


def test_a_saved_reference_clip_refuses_clips_of_another_length(inverted, tmp_path):
    from style_aligned.nodes.reference import FOLDER, LoadStyleReference, SaveStyleReference

    kind, model, clip, trajectory = inverted
    with host.model_folder(FOLDER, tmp_path):
        name = host.run_node(SaveStyleReference, style_reference=trajectory, filename_prefix=f"clip_{kind}")[0]
        loaded = host.run_node(LoadStyleReference, model=model, reference=name)[0]
    assert loaded.frames == 3 and loaded.metadata == trajectory.metadata
    style = patched(model, style_reference=loaded)
    with pytest.raises(ValueError, match="style_reference: the reference clip has 3 latent frames but the clips "
                                         "being generated have 5 latent frames"):
        tiny_wan.sample(style, kind, 3, latent=torch.zeros(3, clip.shape[1], 5, 8, 8))


def test_a_damaged_frame_count_is_named():
    from style_aligned.core.reference.trajectory import Trajectory

    tensors, metadata = Trajectory(torch.tensor([0.0, 1.0]), torch.zeros(2, 1, 16, 3, 8, 8)).to_dict()
    with pytest.raises(ValueError, match="frames is 4 in metadata but 3 in the tensors; the file is damaged"):
        Trajectory.from_dict(tensors, {**metadata, "frames": "4"})


def test_a_clip_for_an_image_model_is_refused():
    from harness import tiny_models

    with pytest.raises(ValueError, match="latent: expected an image latent .* got a clip of 3 latent frames, but "
                                         "this Flux model makes images"):
        host.run_node(DDIMInvertReference, model=tiny_models.tiny_flux(),
                      latent={"samples": torch.zeros(1, 16, 3, 8, 8)}, positive=tiny_models.dit_conditioning("flux", 1),
                      steps=2)
