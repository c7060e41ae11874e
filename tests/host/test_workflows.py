"""The shipped workflows load: every node exists, every link fits, every widget value fits its input.

Node specs come from the real host in process (its stock nodes and comfy_extras) plus the pack,
exactly what the server's /object_info lists.
"""

import json
import math

import make_inputs
import make_thumbnails
import make_workflows as make
import numpy as np
import pytest
import workflow_builders_wan as wan
import workflow_graph as graph
from harness import pack
from harness import workflow_api as wf
from PIL import Image

ROOT = pack.ROOT
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
CHECKED = [pytest.param(p, marks=pytest.mark.needs(make.NEEDS[p.name])) if p.name in make.NEEDS else p
           for p in WORKFLOWS]  # a workflow of a family the host lacks is skipped there, saying why
# files the user picks (upstream lists only what is on disk): the server test supplies them or tiny stand-ins
FILE_INPUTS = {("LoadImage", "image"), ("LoadAudio", "audio"), ("CheckpointLoaderSimple", "ckpt_name"),
               ("ControlNetLoader", "control_net_name"), ("UNETLoader", "unet_name"), ("DualCLIPLoader", "clip_name1"),
               ("DualCLIPLoader", "clip_name2"), ("CLIPLoader", "clip_name"), ("VAELoader", "vae_name")}


@pytest.fixture(scope="module")
def specs():
    return graph.host_specs()


def _ids(path):
    return path.stem


def test_one_workflow_per_use_is_shipped():
    names = {p.name for p in WORKFLOWS}
    assert names == set(make.WORKFLOWS), "workflows/ and generators/make_workflows.py disagree"
    # 7 UNet workflows, 4 DiT (Flux prompts and reference, SD3.5, Qwen-Image), 5 of the 2026 image families (Z-Image,
    # Krea 2, Qwen-Image-Edit 2511, HunyuanImage 2.1, FLUX.2 Klein), 2 Wan 2.2 clips, 2 whole sets in one press
    # (KSampler-like on SDXL, custom sampling on FLUX.2 Klein)
    assert len(names) == 20
    # the template dialog's titles: numbered from simplest to most involved, words a user reads
    numbers = [name.split(" ", 1)[0] for name in make.WORKFLOWS]
    assert numbers == [f"{i:02d}" for i in range(1, len(numbers) + 1)], numbers
    for name in names:
        title = name.removesuffix(".json")
        assert len(title) <= 28 and "_" not in title and title.count(" ") >= 2, title


@pytest.mark.parametrize("path", CHECKED, ids=_ids)
def test_ui_format_and_links_are_consistent(path, specs):
    ui = wf.load(path)
    assert ui["version"] == 0.4 and isinstance(ui["groups"], list) and isinstance(ui["config"], dict)
    nodes = {n["id"]: n for n in ui["nodes"]}
    assert len(nodes) == len(ui["nodes"]) and ui["last_node_id"] == max(nodes)
    assert ui["last_link_id"] == max(link[0] for link in ui["links"])
    notes = [n for n in ui["nodes"] if n["type"] == "Note"]
    assert notes and all(len(n["widgets_values"][0]) > 200 for n in notes), "each workflow explains its knobs"
    orders = sorted(n["order"] for n in ui["nodes"])
    assert orders == list(range(len(nodes)))
    for link_id, origin, origin_slot, target, target_slot, kind in ui["links"]:
        out = nodes[origin]["outputs"][origin_slot]
        inp = nodes[target]["inputs"][target_slot]
        assert link_id in out["links"] and inp["link"] == link_id
        assert out["type"] == kind, f"link {link_id}: output type {out['type']} != {kind}"
        assert inp["type"] == kind or inp.get("widget"), f"link {link_id}: {inp['name']} is {inp['type']}"
        assert nodes[origin]["order"] < nodes[target]["order"]
        spec = specs[nodes[target]["type"]]
        entry = {n: e for n, e, _ in wf.all_inputs(spec)}[inp["name"]]
        assert wf.input_type(entry) == kind, f"{nodes[target]['type']}.{inp['name']} does not take {kind}"
        assert specs[nodes[origin]["type"]]["output"][origin_slot] == kind
    for node in ui["nodes"]:
        if node["type"] != "Note":
            assert node["properties"]["Node name for S&R"] == node["type"]
            for slot in node["inputs"]:
                assert slot.get("link") is None or slot["link"] in {link[0] for link in ui["links"]}


@pytest.mark.parametrize("path", CHECKED, ids=_ids)
def test_every_node_exists_and_every_widget_value_fits(path, specs):
    ui = wf.load(path)
    problems = []
    for node in ui["nodes"]:
        kind = node["type"]
        if kind == "Note":
            continue
        if kind not in specs:
            problems.append(f"node {node['id']}: {kind} is neither a stock node nor ours")
            continue
        spec = specs[kind]
        values = wf.widget_values_by_name(node, spec)
        widgets = wf.widget_inputs(spec)
        if set(values) != {name for name, _ in widgets}:
            problems.append(f"{kind}: widget values for {sorted(values)} but widgets are {[n for n, _ in widgets]}")
        # the saved list is exactly what the frontend writes (control_after_generate and upload values included)
        if wf.ui_widget_values(spec, values) != node["widgets_values"]:
            problems.append(f"{kind}: widgets_values {node['widgets_values']} are not in the frontend's layout")
        for name, entry in widgets:
            if name not in values:
                continue
            if (kind, name) in FILE_INPUTS:
                if not isinstance(values[name], str) or not values[name]:
                    problems.append(f"{kind}.{name}: file name {values[name]!r}")
                continue
            why = wf.check_value(name, entry, values[name])
            if why:
                problems.append(f"node {node['id']} {kind}: {why}")
        linked = {slot["name"] for slot in node["inputs"] if slot.get("link") is not None}
        for name, entry, required in wf.all_inputs(spec):
            if required and not wf.is_widget(entry) and name not in linked:
                problems.append(f"node {node['id']} {kind}: required input {name} is not connected")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CHECKED, ids=_ids)
def test_converts_to_a_complete_api_prompt(path, specs):
    ui = wf.load(path)
    prompt = wf.to_api(ui, specs)
    assert set(prompt) == {str(n["id"]) for n in ui["nodes"] if n["type"] != "Note"}
    for node_id, node in prompt.items():
        spec = specs[node["class_type"]]
        for name, entry, required in wf.all_inputs(spec):
            value = node["inputs"].get(name)
            if required:
                assert value is not None, f"{node_id} {node['class_type']}: {name} missing"
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0] in prompt:
                source = prompt[value[0]]
                assert specs[source["class_type"]]["output"][value[1]] == wf.input_type(entry)
        assert "control_after_generate" not in node["inputs"]
    json.dumps(prompt)  # what POST /prompt gets
    outputs = [n for n in prompt.values() if specs[n["class_type"]].get("output_node")]
    assert outputs, "a workflow without an output node runs nothing"


@pytest.mark.needs("the main leg")
def test_checked_in_workflows_are_what_the_generator_writes(specs):
    """A renamed, added or reordered input changes the generator's output: regenerate, don't hand-edit."""
    for name, build in make.WORKFLOWS.items():
        assert wf.load(ROOT / "workflows" / name) == json.loads(json.dumps(build(specs))), (
            f"{name} is stale: run `./run make-workflows`")


def test_every_pack_node_is_used_by_some_workflow_or_listed():
    used = {n["type"] for p in WORKFLOWS for n in wf.load(p)["nodes"]}
    unused = set(pack.node_classes()) - used
    # saving/loading a reference and the single-prompt fusion are shown in the docs, not a workflow of their own;
    # the multimodal workflow runs the modality nodes inside Multimodal Caption; the metric nodes' old ids are
    # deprecated aliases, kept only so saved workflows load
    inside = {"StyleAlignedImageCaption", "StyleAlignedSpeechTranscript", "StyleAlignedWeatherPhrase",
              "StyleAlignedMusicMood"}
    deprecated = {"StyleAlignedWeightedDinoScore", "StyleAlignedDinoSetConsistency", "StyleAlignedClipTextAlignment"}
    assert unused <= {"SaveStyleReference", "LoadStyleReference", "StyleAlignedPromptFusion", *inside, *deprecated}, \
        unused
    assert not used & deprecated, "shipped workflows use the new ids"
    assert {key for key, cls in pack.node_classes().items() if cls.DEPRECATED} == deprecated


# ---------------------------------------------------------------- the converter itself

SPECS = {
    "KSampler": {"input": {"required": {
        "model": ["MODEL"], "seed": ["INT", {"default": 0, "min": 0, "max": 2**64 - 1}],
        "steps": ["INT", {"default": 20, "min": 1, "max": 10000}],
        "sampler_name": [["euler", "ddim"]], "positive": ["CONDITIONING"]}}, "output": ["LATENT"]},
    "Loader": {"input": {"required": {"name": [["a.safetensors"]]}}, "output": ["MODEL", "CONDITIONING"]},
    "Text": {"input": {"required": {"text": ["STRING", {"multiline": True}]},
                       "optional": {"key": ["STRING", {"forceInput": True}]}}, "output": ["CONDITIONING"]},
    "LoadImage": {"input": {"required": {"image": [["x.png"], {"image_upload": True}]}}, "output": ["IMAGE"]},
}


def _node(node_id, kind, widgets, inputs=(), mode=0):
    return {"id": node_id, "type": kind, "mode": mode, "widgets_values": widgets,
            "inputs": [{"name": n, "type": t, "link": link} for n, t, link in inputs]}


def test_converter_drops_control_after_generate_notes_and_follows_reroutes():
    ui = {"nodes": [
        _node(1, "Loader", ["a.safetensors"]),
        _node(2, "Reroute", [], [("", "*", 1)]),
        _node(3, "KSampler", [7, "randomize", 12, "ddim"], [("model", "MODEL", 2), ("positive", "CONDITIONING", 3)]),
        _node(4, "Note", ["hello"]),
    ], "links": [[1, 1, 0, 2, 0, "MODEL"], [2, 2, 0, 3, 0, "MODEL"], [3, 1, 1, 3, 1, "CONDITIONING"]]}
    api = wf.to_api(ui, SPECS)
    assert set(api) == {"1", "3"}
    assert api["3"]["inputs"] == {"seed": 7, "steps": 12, "sampler_name": "ddim", "model": ["1", 0],
                                  "positive": ["1", 1]}


def test_converter_linked_widget_wins_and_force_input_is_not_a_widget():
    ui = {"nodes": [
        _node(1, "Loader", ["a.safetensors"]),
        _node(2, "Text", ["kept when unlinked"], [("key", "STRING", None)]),
        _node(3, "Text", ["ignored"], [("text", "STRING", 9)]),
        _node(4, "LoadImage", ["x.png", "image"]),
    ], "links": [[9, 2, 0, 3, 0, "STRING"]]}
    api = wf.to_api(ui, SPECS)
    assert api["2"]["inputs"] == {"text": "kept when unlinked"}
    assert api["3"]["inputs"] == {"text": ["2", 0]}
    assert api["4"]["inputs"] == {"image": "x.png"}


def test_converter_bypass_passes_matching_input_and_mute_drops():
    ui = {"nodes": [
        _node(1, "Loader", ["a.safetensors"]),
        _node(2, "Text", ["x"], [("key", "STRING", None)], mode=4),
        _node(5, "Text", ["y"], [], mode=2),
        _node(3, "KSampler", [1, "fixed", 2, "euler"], [("model", "MODEL", 1), ("positive", "CONDITIONING", 2)]),
    ], "links": [[1, 1, 0, 3, 0, "MODEL"], [2, 2, 0, 3, 1, "CONDITIONING"]]}
    # the bypassed Text has no CONDITIONING input to pass through: the input is left out
    api = wf.to_api(ui, SPECS)
    assert set(api) == {"1", "3"} and "positive" not in api["3"]["inputs"]
    ui["nodes"][1]["inputs"].append({"name": "cond", "type": "CONDITIONING", "link": 3})
    ui["links"].append([3, 1, 1, 2, 1, "CONDITIONING"])
    assert wf.to_api(ui, SPECS)["3"]["inputs"]["positive"] == ["1", 1]


def test_converter_names_unknown_nodes_and_value_checks():
    with pytest.raises(wf.WorkflowError, match="unknown node type 'Nope'"):
        wf.to_api({"nodes": [_node(1, "Nope", [])], "links": []}, SPECS)
    steps = SPECS["KSampler"]["input"]["required"]["steps"]
    assert wf.check_value("steps", steps, 0) and wf.check_value("steps", steps, 2.5)
    assert wf.check_value("steps", steps, True) and wf.check_value("steps", steps, 20) is None
    assert wf.check_value("sampler_name", SPECS["KSampler"]["input"]["required"]["sampler_name"], "heun")
    assert wf.check_value("b", ["BOOLEAN", {}], 1) and wf.check_value("s", ["STRING", {}], 3)
    assert wf.check_value("f", ["FLOAT", {"min": 0.0, "max": 1.0}], 1.5)
    assert wf.ui_widget_values(SPECS["KSampler"], {"seed": 1, "steps": 2, "sampler_name": "euler"}) == \
        [1, "fixed", 2, "euler"]


def test_reference_image_workflow_uses_the_original_transfer_recipe(specs):
    """style_aligned_transfer_sdxl.ipynb: inversion guidance 2 over 50 steps, score shift log 2,
    GroupNorm sharing on, generation guidance 10, the reference 5 of 50 steps ahead."""
    ui = wf.load(ROOT / "workflows" / "03 SDXL reference image.json")
    values = {node["type"]: wf.widget_values_by_name(node, specs[node["type"]]) for node in ui["nodes"]
              if node["type"] in ("DDIMInvertReference", "StyleAlignedPatchModel", "KSampler")}
    assert values["DDIMInvertReference"]["steps"] == 50 and values["DDIMInvertReference"]["cfg"] == 2.0
    patch = values["StyleAlignedPatchModel"]
    assert patch["score_shift"] == pytest.approx(math.log(2), abs=5e-4) and patch["share_group_norm"] is True
    assert patch["reference_offset"] == pytest.approx(5 / 50)
    assert values["KSampler"]["cfg"] == 10.0 and values["KSampler"]["steps"] == 50
    # the patch node's own defaults stay those of the prompts-only demo
    from style_aligned.nodes.patch import StyleAlignedPatchModel

    required = StyleAlignedPatchModel.INPUT_TYPES()["required"]
    assert required["score_shift"][1]["default"] == 0.0 and required["share_group_norm"][1]["default"] is False


@pytest.mark.parametrize("path", CHECKED, ids=_ids)
def test_sizes_are_the_widgets_not_the_node_boxes(path, specs):
    """The generator once took `width=` as the node box's width: SD1.5 batches came out 1024x512 and
    the SDXL reference was scaled to 512x1024. Every shipped image size is square (the clips: Wan 2.2 5B's 720p),
    and boxes stay narrow."""
    for node in wf.load(path)["nodes"]:
        if node["type"] in ("StyleAlignedBatchPrompts", "ImageScale"):
            values = wf.widget_values_by_name(node, specs[node["type"]])
            size = values["width"], values["height"]
            assert size == ((wan.WIDTH, wan.HEIGHT) if "Wan" in path.name else (size[0],) * 2), (node["type"], values)
        assert node["size"][0] <= 600, node["type"]


# ---------------------------------------------------------------- what the user sees on opening them


def test_every_workflow_has_its_template_card_picture():
    """The frontend's Browse Templates dialog shows /api/workflow_templates/<pack>/<name>.jpg on the card
    of <name>.json; the pictures are drawn by generators/make_thumbnails.py from the graph and the sample inputs."""
    pictures = sorted((ROOT / "workflows").glob("*.jpg"))
    assert [p.stem for p in pictures] == [p.stem for p in WORKFLOWS]
    for path in WORKFLOWS:
        picture = path.with_suffix(".jpg")
        data = picture.read_bytes()
        assert data[:3] == b"\xff\xd8\xff" and len(data) < 60_000, picture.name
        with Image.open(picture) as shipped:
            assert shipped.format == "JPEG" and shipped.size == (make_thumbnails.SIZE,) * 2
            drawn = np.asarray(make_thumbnails.thumbnail(path), float)
            # stale after a change to the graph: `./run make-workflows` draws them again
            assert np.abs(np.asarray(shipped.convert("RGB"), float) - drawn).mean() < 3, picture.name


def test_sample_inputs_are_what_the_script_makes():
    made = make_inputs.files()
    shipped = {p.name for p in (ROOT / "example_inputs").iterdir()}
    assert shipped == set(made), "example_inputs/ is stale: run `./run make-workflows`"
    for name, data in made.items():
        path = ROOT / "example_inputs" / name
        if name.endswith(".png"):
            with Image.open(path) as a, Image.open(make_inputs.io.BytesIO(data)) as b:
                assert a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b)), name
        else:
            assert path.read_bytes() == data, name
        assert len(data) < 150_000, name


@pytest.mark.parametrize("path", WORKFLOWS, ids=_ids)
def test_every_file_a_workflow_loads_is_a_shipped_sample_input(path):
    names = [node["widgets_values"][0] for node in wf.load(path)["nodes"] if node["type"] in ("LoadImage", "LoadAudio")]
    for name in names:
        assert (ROOT / "example_inputs" / name).is_file(), f"{path.name}: {name} is not in example_inputs/"


@pytest.mark.parametrize("path", CHECKED, ids=_ids)
def test_node_boxes_are_the_frontends_and_do_not_overlap(path, specs):
    """Each box is at least what the frontend computes on loading (it would grow the node otherwise), and no
    two boxes, title bars included, overlap or touch; groups hold their nodes and do not overlap."""
    ui = wf.load(path)
    nodes = ui["nodes"]
    for node in nodes:
        if node["type"] == "Note":
            continue
        need = graph.frontend_size(node["type"], specs[node["type"]], node["inputs"], node["outputs"],
                                  node.get("title") or node["type"])
        assert node["size"][0] >= need[0] and node["size"][1] >= need[1], (node["type"], node["size"], need)
    boxes = {n["id"]: graph.box(n) for n in nodes}
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            assert not graph.overlap(boxes[a["id"]], boxes[b["id"]], gap=10), (a.get("title") or a["type"],
                                                                                  b.get("title") or b["type"])
    groups = ui["groups"]
    for i, group in enumerate(groups):
        assert {"title", "bounding", "color"} <= set(group) and len(group["bounding"]) == 4
        for other in groups[i + 1:]:
            assert not graph.overlap(group["bounding"], other["bounding"]), (group["title"], other["title"])
        inside = [n for n in nodes if _within(boxes[n["id"]], group["bounding"])]
        cut = [n for n in nodes if n not in inside and graph.overlap(boxes[n["id"]], group["bounding"])]
        assert inside and not cut, (group["title"], [n["type"] for n in cut])


def _within(inner, outer):
    (ix, iy, iw, ih), (ox, oy, ow, oh) = inner, outer
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh


def test_the_multi_reference_workflow_has_a_group_per_pipeline():
    ui = wf.load(ROOT / "workflows" / "06 SD1.5 blend two styles.json")
    boxes = {n["id"]: graph.box(n) for n in ui["nodes"]}
    saves = [n for n in ui["nodes"] if n["type"] == "SaveImage"]
    assert len(ui["groups"]) == 4 and len(saves) == 3
    for save in saves:  # each pipeline's group holds its sampler chain, down to its Save Image
        holding = [g for g in ui["groups"] if _within(boxes[save["id"]], g["bounding"])]
        assert len(holding) == 1, save["widgets_values"]
    shared = [g for g in ui["groups"] if g["title"].startswith("Shared")]
    assert len(shared) == 1
    loaders = [n for n in ui["nodes"] if n["type"] in ("LoadImage", "CheckpointLoaderSimple")]
    assert all(_within(boxes[n["id"]], shared[0]["bounding"]) for n in loaders)


def test_the_multi_reference_workflow_keeps_the_references_apart_for_attention(specs):
    """Pipeline 3 inverts both references together (K = 2 rows) with Multi-Reference Blend's Keep apart, not
    Batch Latents (deprecated on v0.28; its replacement is missing on v0.3.64); its weights stay empty, the
    patch weighs the two references."""
    from style_aligned.nodes.blend import KEEP_APART

    assert graph.KEEP_APART == KEEP_APART
    ui = wf.load(ROOT / "workflows" / "06 SD1.5 blend two styles.json")
    nodes = {n["id"]: n for n in ui["nodes"]}
    blends = [n for n in ui["nodes"] if n["type"] == "MultiRefBlend"]
    methods = sorted(wf.widget_values_by_name(n, specs["MultiRefBlend"])["method"] for n in blends)
    assert methods == sorted(["Linear", "SLERP", KEEP_APART])
    apart = next(n for n in blends if wf.widget_values_by_name(n, specs["MultiRefBlend"])["method"] == KEEP_APART)
    assert wf.widget_values_by_name(apart, specs["MultiRefBlend"])["weights"] == ""
    assert {s["name"] for s in apart["inputs"] if s["link"] is not None} == {"latent_1", "latent_2"}
    links = {link[0]: link for link in ui["links"]}
    (invert,) = [nodes[links[i][3]] for i in apart["outputs"][0]["links"]]
    assert invert["type"] == "DDIMInvertReference"
    patch = next(nodes[links[i][3]] for i in invert["outputs"][0]["links"]
                 if nodes[links[i][3]]["type"] == "StyleAlignedPatchModel")
    assert wf.widget_values_by_name(patch, specs["StyleAlignedPatchModel"])["reference_weights"] == "0.5, 0.5"


def _marked_deprecated(cls):
    """The host's own mark on a node class: `DEPRECATED = True` on a classic node, `is_deprecated=True` in a
    V3 node's schema (comfy_api io.ComfyNode); the server lists either as `deprecated` in /object_info."""
    if callable(getattr(cls, "define_schema", None)):
        return bool(cls.define_schema().is_deprecated)
    return getattr(cls, "DEPRECATED", False) is True


@pytest.fixture(scope="module")
def deprecated(specs):
    """Node ids this host marks deprecated, read from its node classes (the stock ones and ours)."""
    from harness import host

    classes = {**host.stock_nodes(), **pack.node_classes()}
    marked = {key for key, cls in classes.items() if _marked_deprecated(cls)}
    # the specs the generator and the other tests use carry the same mark
    assert marked == {key for key, spec in specs.items() if spec.get("deprecated")}
    # the check has teeth on either host: a classic stock node and at least one V3 stock node are marked
    assert "ControlNetApply" in marked
    assert any(callable(getattr(classes[key], "define_schema", None)) for key in marked), sorted(marked)
    if "BatchLatentsNode" in classes:  # v0.28: Batch Latents (LatentBatch) is replaced; older hosts lack it
        assert "LatentBatch" in marked
    return marked


@pytest.mark.parametrize("path", WORKFLOWS, ids=_ids)
def test_no_workflow_uses_a_node_the_host_marks_deprecated(path, deprecated):
    """Hosts mark replaced nodes deprecated (the frontend shows a [DEPR] badge and hides them from search),
    and each host marks others: v0.28 deprecates Batch Latents (LatentBatch), whose replacement v0.3.64 lacks,
    so the multi-reference workflow keeps its references apart with Multi-Reference Blend instead; the
    ControlNet workflow uses Apply ControlNet (ControlNetApplyAdvanced), not ControlNetApply."""
    used = {n["type"] for n in wf.load(path)["nodes"] if n["type"] != "Note"}
    assert not used & deprecated, sorted(used & deprecated)


# Inputs most users never touch, folded on the node by hosts that know `advanced` (v0.28); the others stay
# on it. The patch node shows six widgets (and its model and style_reference sockets).
PATCH_WIDGETS = ["share_attention", "adain_values", "score_shift", "share_group_norm", "layers", "end_percent"]
METRIC_ADVANCED = ["hub_id", "batch_size"]
ADVANCED_INPUTS = {
    "StyleAlignedPatchModel": ["adain_queries", "adain_keys", "score_scale", "full_attention_share", "share_fraction",
                               "custom_layers", "start_percent", "reference_weights", "reference_offset",
                               "reference_positions", "reference_strength", "untwist_high", "untwist_low"],
    "StyleAlignedBatchPrompts": ["window_start", "window_size", "guidance", "length"],
    "StyleAlignedSetSampler": ["denoise"],
    "DDIMInvertReference": ["scheduler", "refinement"],
    "MultiRefBlend": ["keep_norm"],
    "StyleAlignedDepthMap": ["hub_id"],
    "StyleAlignedImageCaption": ["hub_id", "max_new_tokens"],
    "StyleAlignedWeatherPhrase": ["api_key_env", "base_url", "timeout", "retries"],
    "StyleAlignedMusicMood": ["hub_id", "top_k"],
    "StyleAlignedPromptFusion": ["max_words"],
    "StyleAlignedPromptFusionList": ["max_words"],
    "MultimodalCaption": ["max_words", "caption_hub_id", "caption_max_new_tokens", "music_hub_id", "music_top_k",
                          "weather_api_key_env", "weather_base_url", "weather_timeout", "weather_retries"],
    **{key: METRIC_ADVANCED for key in ("WeightedDinoScore", "DinoSetConsistency", "ClipTextAlignment",
                                        "StyleAlignedWeightedDinoScore", "StyleAlignedDinoSetConsistency",
                                        "StyleAlignedClipTextAlignment")},
}


def test_rarely_changed_inputs_are_advanced_where_the_host_folds_them(specs):
    """On v0.28 (inputs take `advanced`) the frontend folds these inputs under the node's advanced toggle; on
    v0.3.64 they are plain inputs. Either way they keep their place: saved workflows store widgets by position."""
    from style_aligned.nodes.ui import ADVANCED

    ours = pack.node_classes()
    marked = {key: [name for name, entry, _ in wf.all_inputs(specs[key]) if wf.input_options(entry).get("advanced")]
              for key in ours}
    if not ADVANCED:
        assert not any(marked.values()), marked
        return
    assert {key: names for key, names in marked.items() if names} == ADVANCED_INPUTS
    shown = [name for name, entry in wf.widget_inputs(specs["StyleAlignedPatchModel"])
             if not wf.input_options(entry).get("advanced")]
    assert shown == PATCH_WIDGETS
    # a shipped workflow that sets an advanced input shows that node unfolded
    for path in WORKFLOWS:
        for node in wf.load(path)["nodes"]:
            if node["type"] in ours:
                changed = graph.changed_advanced(specs[node["type"]], wf.widget_values_by_name(node,
                                                                                           specs[node["type"]]))
                assert bool(node.get("showAdvanced")) == bool(changed), (path.name, node["type"], changed)


DESCRIPTION_LIMIT = 300  # the node's tooltip; the rest is DETAILS, on its help page
TOOLTIP_LIMIT = 400  # an input's or output's tooltip (the longest today: the patch node's layers, 376)


def test_node_descriptions_and_tooltips_fit_a_tooltip():
    """The frontend shows DESCRIPTION as the node's tooltip and each input's tooltip on hover: short enough
    to stay on screen; the long text is on the node's help page (generators/make_docs.py)."""
    for key, cls in pack.node_classes().items():
        assert 0 < len(cls.DESCRIPTION) <= DESCRIPTION_LIMIT, (key, len(cls.DESCRIPTION))
        for name, entry, _ in wf.all_inputs(wf.specs_from_classes({key: cls})[key]):
            tooltip = wf.input_options(entry).get("tooltip", "")
            assert len(tooltip) <= TOOLTIP_LIMIT, (key, name, len(tooltip))
        for tip in cls.OUTPUT_TOOLTIPS:
            assert len(tip) <= TOOLTIP_LIMIT, (key, tip)


def test_sample_inputs_are_copied_only_where_the_name_is_free(tmp_path, monkeypatch):
    from style_aligned.nodes import example_inputs

    (tmp_path / "style_a.png").write_bytes(b"the user's own picture")
    copied = example_inputs.install(tmp_path)
    shipped = sorted(p.name for p in (ROOT / "example_inputs").iterdir())
    assert copied == [n for n in shipped if n != "style_a.png"]
    assert (tmp_path / "style_a.png").read_bytes() == b"the user's own picture"
    assert example_inputs.install(tmp_path) == []  # a second start copies nothing
    monkeypatch.setenv("STYLE_ALIGNED_NO_EXAMPLE_INPUTS", "1")
    assert example_inputs.install(tmp_path / "elsewhere") == [] and not (tmp_path / "elsewhere").exists()
