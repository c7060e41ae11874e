"""The invariants every model family of the patch keeps, checked the same way for each: the family tests call
these with their tiny model, the patched clone and a sampler `sample(model, cfg) -> latent` of their batch. (pytest
does not rewrite the asserts of this module: each says its figures itself.)"""

import torch

from . import recording

# how the host may run a batch: one chunk at cfg 1, cond + uncond in one call, or split into one call each
LAYOUTS = {"cfg 1 (one chunk)": (1.0, False), "batched cond+uncond": (4.0, False), "split cond/uncond": (4.0, True)}
CHUNKS = {"cfg 1 (one chunk)": 1, "batched cond+uncond": 2, "split cond/uncond": 1}


def sample_in(layout, sample, model):
    """`sample(model, cfg)` in one of LAYOUTS."""
    cfg, split = LAYOUTS[layout]
    if split:
        with recording.forced_split(model):
            return sample(model, cfg)
    return sample(model, cfg)


def reference_rows_unchanged_targets_changed(model, style, sample, layout):
    """In every model call of the patched clone, the reference rows equal the unpatched model's on the same
    inputs (to 1e-5) and every target row differs from it."""
    recorder = recording.CallRecorder.install(style)
    sample_in(layout, sample, style)
    chunks = {len(c["cond_or_uncond"]) for c in recorder.calls}
    assert recorder.calls and chunks == {CHUNKS[layout]}, f"{layout}: calls of {chunks} chunks"
    worst_reference, least_target = recording.rows_against_unpatched(model, recorder)
    assert worst_reference <= 1e-5, f"{layout}: a reference row is {worst_reference:.3g} from the unpatched model's"
    assert least_target > 1e-4, f"{layout}: a target row is only {least_target:.3g} from the unpatched model's"


def batched_equals_split(style, sample):
    """cond and uncond in one call give what they give in a call each."""
    batched = sample_in("batched cond+uncond", sample, style)
    split = sample_in("split cond/uncond", sample, style)
    difference, scale = (batched - split).abs().amax().item(), batched.abs().amax().item()
    assert difference <= 1e-5 * scale, f"batched and split differ by {difference:.3g} (largest value {scale:.3g})"


def original_untouched(model, style, sample):
    """Sampling the patched clone leaves the model it came from as it was: same output, no options or patches (at
    cfg 1: one chunk per call, so the host's memory-dependent choice to split cond/uncond cannot differ between
    the two runs of the original)."""
    before = sample(model, 1.0)
    sample(style, 1.0)
    after = sample(model, 1.0)
    assert torch.equal(before, after), f"the original's output moved by {(before - after).abs().amax().item():.3g}"
    left = {key: model.model_options[key] for key in ("transformer_options", "model_function_wrapper")
            if key in model.model_options}
    assert not left.get("transformer_options") and "model_function_wrapper" not in left, left
    assert not model.object_patches, model.object_patches
