"""The method, seen in the real host: what our hooks computed during real sampling runs, recomputed here from
the paper's definitions in float64 (never with the pack's own functions), and each part's effect measured.

The hooks' inputs and outputs are recorded during a sampling run of a tiny model (harness.recording.recorded):
UNet self-attention (`SharedAttentionPatch`, q, k, v after the projections), UNet GroupNorm
(`SharedGroupNormForward`) and Flux attention (the host's `comfy.ldm.flux.layers.attention`, whose q, k are
before RoPE: the test turns them with the host's own rotary code, the reference keys at positions one latent
width to the right). The definitions (StyleAligned, Hertz et al. 2024; AlignedGen 2025 for DiTs):

- the first row of each chunk (one chunk per conditioning) is the reference; it attends to itself only;
- a target's image-token queries and keys get the reference's per-channel mean and std over the tokens (AdaIN,
  unbiased variance, eps 1e-5; on a DiT before RoPE turns them, as AlignedGen does); it attends to [its own
  keys ; score_scale * the reference's image keys] with the score shift added to the logits of the reference
  columns, values [its own ; the reference's image values];
- GroupNorm of a target takes its statistics over its features and the reference's together.

Tolerances are relative to the largest output value of the call; the tiny models (tiny_models.method_model,
tiny_flux) are wide enough that every part moves the targets by at least 100 times that tolerance, which each
test asserts as well, so switching a part off cannot hide below the tolerance.
"""

import math

import pytest
import torch
from harness import host, recording
from harness import tiny_models as tiny
from style_aligned.nodes import hooks
from style_aligned.nodes.families import dit, unet
from style_aligned.nodes.patch import StyleAlignedPatchModel

TOL = 2e-5  # float32 hooks against the float64 definition, relative to the output's scale
EFFECT = 100 * TOL  # what every part of the method must move the targets by, at least
EPS = 1e-5  # AdaIN's
SHIFT = math.log(2)  # the transfer demo's score shift


def patched(model, **knobs):
    return host.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


# ---------------------------------------------------------------- the definitions, in float64

def attend(q, k, v, bias=None):
    """Softmax attention written out: q (..., Lq, d), k and v (..., Lk, d), bias (Lk,) added to the logits."""
    logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        logits = logits + bias
    weights = torch.exp(logits - logits.amax(dim=-1, keepdim=True))
    return (weights / weights.sum(dim=-1, keepdim=True)) @ v


def adain(x, ref):
    """x (..., L, d) with the per-channel mean and std over the tokens of ref (unbiased variance, eps 1e-5)."""
    def stats(t):
        return t.mean(dim=-2, keepdim=True), (t.var(dim=-2, unbiased=True, keepdim=True) + EPS).sqrt()

    mean, std = stats(x)
    ref_mean, ref_std = stats(ref)
    return (x - mean) / std * ref_std + ref_mean


def reference_of(row, rows):
    return row - row % rows


def aligned(x, chunks, image=slice(None)):
    """x (B, heads, L, d) with the image tokens of every target row moved to its chunk reference's statistics."""
    rows = x.shape[0] // chunks
    out = x.clone()
    for row in range(x.shape[0]):
        ref = reference_of(row, rows)
        if row != ref:
            out[row, :, image] = adain(x[row, :, image], x[ref, :, image])
    return out


def shared_batch(q, k, v, chunks, image=slice(None), ref_keys=None, shift=SHIFT, scale=1.0):
    """StyleAligned attention over a batch (B, heads, L, d) whose q and k are as attention sees them (AdaIN
    done where it is): the first row of each chunk attends to itself; a target to [its keys ; scale * its
    reference's image keys] with `shift` on the reference columns' logits, values [its own ; the reference's
    image values]. ref_keys(row): the reference's image keys (heads, I, d) as the targets see them (default: as
    they are)."""
    rows = q.shape[0] // chunks
    out = torch.empty_like(q)
    for row in range(q.shape[0]):
        ref = reference_of(row, rows)
        if row == ref:
            out[row] = attend(q[row], k[row], v[row])
            continue
        theirs = k[ref, :, image] if ref_keys is None else ref_keys(ref)
        keys = torch.cat([k[row], scale * theirs], dim=-2)
        values = torch.cat([v[row], v[ref, :, image]], dim=-2)
        bias = torch.cat([torch.zeros(k.shape[-2]), torch.full((theirs.shape[-2],), shift)]).to(q)
        out[row] = attend(q[row], keys, values, bias)
    return out


def plain_batch(q, k, v):
    return attend(q, k, v)


def shared_group_norm(x, groups, weight, bias, eps, chunks):
    """GroupNorm of x (B, C, ...) where a target's statistics are over its features and its chunk's reference's
    together (as if the two feature maps were one), a reference's over its own."""
    batch = x.shape[0]
    rows = batch // chunks
    out = torch.empty_like(x)
    for row in range(batch):
        ref = reference_of(row, rows)
        own = x[row].reshape(groups, -1)
        pool = own if row == ref else torch.cat([own, x[ref].reshape(groups, -1)], dim=1)
        mean, var = pool.mean(dim=1, keepdim=True), pool.var(dim=1, unbiased=False, keepdim=True)
        out[row] = ((own - mean) / (var + eps).sqrt()).reshape(x[row].shape)
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return out * weight.view(shape) + bias.view(shape)


# ---------------------------------------------------------------- comparing

def relative(a, b, rows=slice(None)):
    """Largest difference of rows of a and b, relative to b's largest value."""
    return float((a[rows] - b[rows]).abs().amax() / b.abs().amax())


def heads_of(t, heads):
    """(B, L, heads*d) -> (B, heads, L, d) in float64."""
    return t.double().unflatten(-1, (heads, -1)).transpose(1, 2)


def flat(t):
    """(B, heads, L, d) -> (B, L, heads*d)."""
    return t.transpose(1, 2).flatten(2)


def targets_of(batch, chunks):
    rows = batch // chunks
    return [row for row in range(batch) if row % rows]


def report(name, effects, calls):
    """Print the smallest effect of each part over the calls; each must be at least EFFECT."""
    print(f"\n{name}: smallest relative change of the targets over {calls} calls (tolerance {TOL}): "
          + ", ".join(f"{part} {min(values):.2e}" for part, values in effects.items()))
    for part, values in effects.items():
        assert min(values) >= EFFECT, f"{part} moves the targets by only {min(values):.2e} in some call"


# ---------------------------------------------------------------- UNet

@pytest.fixture(scope="module", params=tiny.UNET_KINDS)
def unet_run(request):
    """A StyleAligned run (score shift log 2, GroupNorm shared, cond and uncond in one call) on a wide tiny UNet,
    every attention hook and GroupNorm hook recorded."""
    kind = request.param
    style = patched(tiny.method_model(kind), score_shift=SHIFT, share_group_norm=True)
    with recording.recorded(unet.SharedAttentionPatch) as attention, \
            recording.recorded(unet.SharedGroupNormForward, context=hooks.current_call) as norms:
        tiny.sample(style, kind, 4, steps=3)
    assert attention and norms
    return kind, attention, norms


def unet_attention_calls(records):
    """(q, k, v as (B, heads, L, d) float64, chunks, the hook's output likewise) per recorded call."""
    for record in records:
        _, q, k, v, extra = record["args"]
        heads = extra["n_heads"]
        q, k, v, out = (heads_of(t, heads) for t in (q, k, v, record["output"]))
        yield q, k, v, len(extra["cond_or_uncond"]), out


def test_unet_attention_is_the_definition_and_each_part_moves_the_targets(unet_run):
    kind, records, _ = unet_run
    effects = {"AdaIN": [], "score shift": [], "reference keys": []}
    for q, k, v, chunks, got in unet_attention_calls(records):
        assert chunks == 2
        q_aligned, k_aligned = aligned(q, chunks), aligned(k, chunks)
        expected = shared_batch(q_aligned, k_aligned, v, chunks)
        assert relative(got, expected) <= TOL
        targets = targets_of(q.shape[0], chunks)
        effects["AdaIN"].append(relative(shared_batch(q, k, v, chunks), expected, targets))
        effects["score shift"].append(relative(shared_batch(q_aligned, k_aligned, v, chunks, shift=0.0), expected,
                                               targets))
        effects["reference keys"].append(relative(plain_batch(q, k, v), expected, targets))
    report(kind, effects, len(records))


def test_unet_group_norm_pools_each_target_with_its_reference(unet_run):
    kind, _, records = unet_run
    effects = []
    for record in records:
        hook, x = record["args"]
        norm, call = hook.norm, record["context"]
        assert call is not None and call.chunks == 2
        x = x.double()
        weight, bias = norm.weight.detach().double(), norm.bias.detach().double()
        expected = shared_group_norm(x, norm.num_groups, weight, bias, norm.eps, call.chunks)
        assert relative(record["output"].double(), expected) <= TOL
        plain = torch.nn.functional.group_norm(x, norm.num_groups, weight, bias, norm.eps)
        effects.append(relative(plain, expected, targets_of(x.shape[0], call.chunks)))
    report(kind, {"GroupNorm sharing": effects}, len(records))


# ---------------------------------------------------------------- Flux (RoPE, text and image tokens)

FLUX_SIZE, FLUX_TOKENS, PATCH = 8, 8, 2


def flux_ids(width_offset=0):
    """The host's Flux positions of a (FLUX_TOKENS text, FLUX_SIZE latent) sequence: text (0, 0, 0), image
    (0, row, column) per 2x2 patch, columns moved by `width_offset`."""
    side = FLUX_SIZE // PATCH
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    image = torch.stack([torch.zeros(side * side), rows.flatten(), cols.flatten() + width_offset], dim=-1)
    return torch.cat([torch.zeros(FLUX_TOKENS, 3), image])[None].float()


@pytest.fixture(scope="module")
def flux_run():
    """A StyleAligned run on the tiny Flux (score scale 1.1 as AlignedGen, score shift log 2, cfg 1), every
    attention of its blocks recorded (q, k before RoPE)."""
    import comfy.ldm.flux.layers

    model = tiny.tiny_flux()
    style = patched(model, score_scale=1.1, score_shift=SHIFT)
    with recording.recorded(comfy.ldm.flux.layers, "attention") as records:
        tiny.sample(style, "flux", 3, cfg=1.0, steps=2, size=FLUX_SIZE)
    return model.get_model_object("diffusion_model"), records


def flux_shared(q, k, v, rope, adain_on=True, positions=None, **part):
    """StyleAligned on a Flux joint sequence (one chunk, text first) from q, k before RoPE: AdaIN on the image
    tokens, then RoPE (AlignedGen applies AdaIN before the rotary embedding); the reference's image keys turned
    at `positions` (the image part of a pe; None: where they are). Score scale 1.1, as AlignedGen's."""
    image = slice(FLUX_TOKENS, None)
    q_seen, k_seen = (rope(aligned(t, 1, image) if adain_on else t) for t in (q, k))
    keys = None if positions is None else (lambda ref: rope(k[ref, :, image], positions))
    return flat(shared_batch(q_seen, k_seen, v, 1, image, keys, scale=1.1, **part))


def test_flux_attention_is_the_definition_with_reference_keys_beside_the_target(flux_run):
    """Single-stream blocks share (AlignedGen), double-stream blocks stay plain. The reference's image keys are
    where the host's own RoPE puts a key one latent width (in patches) to the right: its pe_embedder at shifted
    ids, applied with its apply_rope1."""
    from comfy.ldm.flux.math import apply_rope1

    diffusion_model, records = flux_run
    image = slice(FLUX_TOKENS, None)
    plain_pe = diffusion_model.pe_embedder(flux_ids())
    beside, left = (diffusion_model.pe_embedder(flux_ids(d))[:, :, image] for d in (FLUX_SIZE // PATCH,
                                                                                      -FLUX_SIZE // PATCH))

    def rope(x, positions=plain_pe):  # the host's kernels take float32 (its rotation: 1e-7 relative)
        return apply_rope1(x.float(), positions).double()

    effects = {"AdaIN": [], "score shift": [], "ShiftPE (against none)": [], "ShiftPE (against left)": []}
    kinds = set()
    for record in records:
        q, k, v = (t.double() for t in record["args"][:3])
        pe, options = record["kwargs"]["pe"], record["kwargs"]["transformer_options"]
        torch.testing.assert_close(pe, plain_pe.expand_as(pe), rtol=0, atol=1e-6)  # the test's ids are the host's
        got = record["output"].double()
        kind = options[dit.BLOCK][0]
        kinds.add(kind)
        if kind == "double":
            assert relative(got, flat(plain_batch(rope(q), rope(k), v))) <= TOL
            continue
        expected = flux_shared(q, k, v, rope, positions=beside)
        assert relative(got, expected) <= TOL
        targets = targets_of(q.shape[0], 1)
        variants = {"AdaIN": dict(adain_on=False, positions=beside), "score shift": dict(shift=0.0, positions=beside),
                    "ShiftPE (against none)": dict(positions=None), "ShiftPE (against left)": dict(positions=left)}
        for part, changed in variants.items():
            effects[part].append(relative(flux_shared(q, k, v, rope, **changed), expected, targets))
    assert kinds == {"double", "single"}
    report("flux", effects, len(records))
