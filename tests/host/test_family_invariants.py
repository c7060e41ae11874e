"""What every model family of the patch keeps, on each family's tiny model in the real host (harness.invariants):
the reference rows of every model call equal the unpatched model's and the targets change, at cfg 1 and with
cond/uncond batched or split; batched == split; the original model is untouched. One list of families, so a
new record gets these checks by adding one line here."""

import pytest
from harness import host, invariants, tiny_edit_hunyuan_kandinsky, tiny_flux2, tiny_nextdit, tiny_wan
from harness import tiny_models as tiny
from style_aligned.nodes.patch import StyleAlignedPatchModel

SHARE_MORE = dict(score_scale=1.1, score_shift=0.3)  # the reference row must hold even with these


def _dit(kind):
    return tiny.TINY_DITS[kind], lambda m, cfg: tiny.sample(m, kind, 3, cfg=cfg, steps=2), None


def _of(module, build, kind):
    return build, lambda m, cfg: module.sample(m, kind, 3, cfg=cfg), host.FAMILY_NEEDS.get(kind)


# kind -> (tiny model, sample(model, cfg) of a 3-row batch, the host feature it needs or None)
FAMILIES = {
    **{kind: _dit(kind) for kind in ("flux", "flux_schnell", "chroma", "sd3", "qwen_image")},
    "flux2": _of(tiny_flux2, tiny_flux2.TINY["flux2"], "flux2"),
    "flux2_klein": _of(tiny_flux2, tiny_flux2.TINY["flux2_klein"], "flux2_klein"),
    "chroma_radiance": _of(tiny_flux2, tiny_flux2.TINY["chroma_radiance"], "chroma_radiance"),
    "longcat_image": _of(tiny_flux2, tiny_flux2.TINY["longcat_image"], "longcat_image"),
    **{kind: _of(tiny_nextdit, lambda kind=kind: tiny_nextdit.tiny(kind), kind) for kind in tiny_nextdit.KINDS},
    "hunyuan_image": _of(tiny_edit_hunyuan_kandinsky, tiny_edit_hunyuan_kandinsky.TINY["hunyuan_image"],
                         "hunyuan_image"),
    "kandinsky5": _of(tiny_edit_hunyuan_kandinsky, tiny_edit_hunyuan_kandinsky.TINY["kandinsky5"], "kandinsky5"),
    "qwen_image_edit": _of(tiny_edit_hunyuan_kandinsky, tiny_edit_hunyuan_kandinsky.TINY["qwen_image_edit"],
                           "qwen_image_edit"),
    "qwen_image_edit_2511": _of(tiny_edit_hunyuan_kandinsky, tiny_edit_hunyuan_kandinsky.TINY["qwen_image_edit_2511"],
                                "qwen_image_edit_2511"),
    **{kind: _of(tiny_wan, lambda kind=kind: tiny_wan.tiny_wan(kind), kind) for kind in tiny_wan.KINDS},
}
KNOBS = {kind: dict(SHARE_MORE, layers="all") for kind in tiny_nextdit.KINDS}  # every layer of the NextDiT families
PARAMS = [pytest.param(kind, marks=pytest.mark.needs(feature)) if feature else kind
          for kind, (_, _, feature) in FAMILIES.items()]


def patched(model, **knobs):
    return host.run_node(StyleAlignedPatchModel, model=model, **knobs)[0]


@pytest.fixture(scope="module", params=PARAMS)
def family(request):
    """(kind, tiny model, its sampler)."""
    build, sample, _ = FAMILIES[request.param]
    return request.param, build(), sample


@pytest.mark.parametrize("layout", list(invariants.LAYOUTS))
def test_reference_rows_are_the_unpatched_models_and_targets_change(family, layout):
    kind, model, sample = family
    style = patched(model, **KNOBS.get(kind, SHARE_MORE))
    invariants.reference_rows_unchanged_targets_changed(model, style, sample, layout)


def test_batched_and_split_runs_agree(family):
    _, model, sample = family
    invariants.batched_equals_split(patched(model), sample)


def test_the_original_model_is_untouched_after_sampling_the_patched_clone(family):
    _, model, sample = family
    invariants.original_untouched(model, patched(model), sample)
