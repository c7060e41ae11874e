"""The patched model under threads: current hosts run conditioning batches in threads, each thread on its own copy
of the diffusion model but all with the same model options, so the same patch objects (`multigpu_clones` in
comfy/samplers.py). The method's state lives per model call, so two batches sampled at the same time through one
patch give exactly the rows they give one after the other.

Each thread samples its own copy of the model, as the host's threads do: the host does not sample one model object
from two threads at once (sampling sets and clears `current_patcher` on the model it runs)."""

import threading

import pytest
import torch
from harness import host
from harness import tiny_models as tiny
from style_aligned.nodes.patch import StyleAlignedPatchModel

STEPS = 4


def _two_batches(kind):
    """Two different sets (3 rows each: prompts, seeds), as two workflows would queue them."""
    prompts = tiny.dit_conditioning if kind in tiny.TINY_DITS else tiny.conditioning
    return [dict(positive=prompts(kind, 3, seed=10 + i), seed=20 + i) for i in range(2)]


def _sample(model, kind, batch):
    cfg = 1.0 if kind == "flux" else 5.0
    return tiny.sample(model, kind, 3, steps=STEPS, cfg=cfg, **batch)


def _tiny(kind):
    return tiny.TINY_DITS[kind]() if kind in tiny.TINY_DITS else tiny.tiny_model(kind)


def _on_its_own_model_copy(patched, kind):
    """A clone that shares the patch (its model options hold the same patch objects) on another copy of the model
    (the same tiny model built again from the same seed, as the host loads a multigpu clone again)."""
    twin = patched.clone()
    twin.model = _tiny(kind).model
    return twin


@pytest.mark.parametrize("kind", ["sd15", "sdxl", "flux"])
def test_two_batches_sampled_at_once_equal_the_same_batches_one_after_the_other(kind):
    patched = host.run_node(StyleAlignedPatchModel, model=_tiny(kind))[0]
    twins = [patched, _on_its_own_model_copy(patched, kind)]
    batches = _two_batches(kind)
    one_after_the_other = [_sample(patched, kind, batch) for batch in batches]

    results, errors = [None, None], []
    start = threading.Barrier(2)

    def run(index):
        try:
            start.wait()
            results[index] = _sample(twins[index], kind, batches[index])
        except Exception as exc:  # reported below, with the thread it came from
            errors.append((index, exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    for at_once, alone in zip(results, one_after_the_other, strict=True):
        assert torch.equal(at_once, alone)
    # the two sets differ (a test that could not tell them apart would prove nothing)
    assert not torch.allclose(one_after_the_other[0], one_after_the_other[1])
