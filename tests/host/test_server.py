"""The real host, headless on 127.0.0.1: the pack from custom_nodes registers every node, and every
shipped workflow, converted from its UI file, runs through POST /prompt to the expected outputs.

The host gets a temp --cwd whose custom_nodes/ links the repo (as a user's clone would be) and
tests/harness/tiny_pack (tiny loaders); the tiny BLIP/Whisper/CLAP/DPT/DINO/CLIP models are written into
its models/ folders, so the pack finds them by name. Weather comes from a local HTTP server.
The server runs in its own process group and is always killed by the fixture's finalizer.
"""

import json
import re
import time
import urllib.error

import av
import make_workflows as make
import pytest
from harness import host as harness_host
from harness import inputs, pack, tiny_pack
from harness import server as hs
from harness import workflow_api as wf
from PIL import Image
from style_aligned.nodes import metrics as metric_nodes

ROOT = pack.ROOT
KEY = "server-test-KEY-7"

# Per workflow: SaveImage filename_prefix -> images saved (reference rows included), and the
# number of PreviewImage outputs (charts, depth and edge maps).
EXPECTED = {
    "01 SD1.5 prompts only.json": ({"style_aligned/sd15_prompts": 4}, 0),
    "02 SDXL prompts only.json": ({"style_aligned/sdxl_prompts": 4}, 0),
    "03 SDXL reference image.json": ({"style_aligned/reference": 4}, 0),
    "04 SD1.5 depth ControlNet.json": ({"style_aligned/controlnet": 4}, 2),
    "05 SD1.5 style metrics.json": ({"style_aligned/metrics_set": 4}, 3),
    "06 SD1.5 blend two styles.json": ({"style_aligned/multiref_linear": 4, "style_aligned/multiref_slerp": 4,
                                        "style_aligned/multiref_attention": 5}, 0),
    "07 SDXL multimodal prompts.json": ({"style_aligned/multimodal": 3}, 0),
    "08 Flux prompts only.json": ({"style_aligned/flux_prompts": 4}, 0),
    "09 Flux reference image.json": ({"style_aligned/flux_reference": 4}, 0),
    "10 SD3.5 prompts only.json": ({"style_aligned/sd35_prompts": 4}, 0),
    "11 Qwen-Image prompts only.json": ({"style_aligned/qwen_image_prompts": 4}, 0),
    "12 Z-Image Turbo prompts.json": ({"style_aligned/z_image_turbo_prompts": 4}, 0),
    "13 Krea 2 prompts only.json": ({"style_aligned/krea2_prompts": 4}, 0),
    "14 Qwen-Edit 2511 one style.json": ({"style_aligned/qwen_edit_one_style": 3}, 0),
    "15 HunyuanImage 2.1 prompts.json": ({"style_aligned/hunyuan_image_prompts": 4}, 0),
    "16 FLUX.2 Klein prompts only.json": ({"style_aligned/flux2_klein_prompts": 4}, 0),
    "17 Wan 2.2 aligned clips.json": ({}, 0),  # one video file each (CLIPS)
    "18 Wan 2.2 reference clip.json": ({}, 0),
    "19 SDXL whole set one press.json": ({"style_aligned/whole_set": 13}, 0),  # 3 windows of 4, one press
    "20 FLUX.2 Klein whole set.json": ({"style_aligned/flux2_klein_whole_set": 9}, 0),  # 2 windows, custom
}
CLIPS = {"17 Wan 2.2 aligned clips.json": {"style_aligned/wan22_clips": 4},  # clips in the saved video
         "18 Wan 2.2 reference clip.json": {"style_aligned/wan22_reference_clip": 4}}
RUNS = [pytest.param(name, marks=pytest.mark.needs(make.NEEDS[name])) if name in make.NEEDS else name
        for name in sorted(EXPECTED)]
MULTIMODAL = "07 SDXL multimodal prompts.json"
SAMPLE_INPUTS = ROOT / "example_inputs"  # the pack copies them into the host's input folder when it loads
INPUT_AUDIO = ("speech.wav", "music.wav")


@pytest.fixture(scope="module")
def weather_url():
    with inputs.fake_weather_service(KEY) as url:
        yield url


@pytest.fixture(scope="module")
def host(tmp_path_factory, request):
    started = time.monotonic()
    cwd = hs.prepare_host(tmp_path_factory.mktemp("host"), {hs.PACK_FOLDER: ROOT, "style-aligned-test-pack":
                                                            hs.TINY_PACK})
    hs.write_tiny_pretrained(cwd / "models")
    # a user's own file of a sample's name: the pack must leave it as it is
    (cwd / "input" / "content.png").write_bytes(USERS_CONTENT)
    server = hs.HostServer(cwd, env={"OPENWEATHERMAP_API_KEY": KEY})
    request.addfinalizer(server.stop)  # also when start() fails half-way
    server.start()
    print(f"\nhost ready after {time.monotonic() - started:.1f} s (models written, server started)")
    return server


@pytest.fixture(scope="module")
def object_info(host):
    return host.get("/object_info")


def _users_picture():
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (48, 40), (10, 200, 30)).save(buffer, "PNG")
    return buffer.getvalue()


USERS_CONTENT = _users_picture()


def test_the_pack_puts_its_sample_inputs_in_the_input_folder_without_overwriting(host, object_info):
    """On a fresh install the pack copies example_inputs/ into the host's input folder at load, each file only
    where its name is free: the user's content.png stays, the others are the shipped ones, listed by the host."""
    shipped = sorted(p.name for p in SAMPLE_INPUTS.iterdir())
    assert shipped and "content.png" in shipped
    for name in shipped:
        copied = (host.cwd / "input" / name).read_bytes()
        assert copied == (USERS_CONTENT if name == "content.png" else (SAMPLE_INPUTS / name).read_bytes()), name
    assert {n for n in shipped if n.endswith(".png")} <= set(_choices(object_info["LoadImage"]))


def _choices(spec):
    """The file names a loader's first input offers (a list, or a V3 COMBO's options)."""
    entry = wf.all_inputs(spec)[0][1]
    return entry[0] if isinstance(entry[0], list) else wf.input_options(entry).get("options", [])

def test_object_info_registers_every_pack_node_with_its_inputs(object_info):
    ours, names = pack.node_classes(), pack.display_names()
    assert ours and set(ours) <= set(object_info), sorted(set(ours) - set(object_info))
    for name, cls in ours.items():
        served = object_info[name]
        assert served["display_name"] == names[name]
        assert served["category"] == cls.CATEGORY
        assert served["output"] == list(cls.RETURN_TYPES)
        local = cls.INPUT_TYPES()
        for section in ("required", "optional"):
            names_here = list(local.get(section) or {})
            assert list(served["input"].get(section) or {}) == names_here, f"{name}.{section}"
            for input_name in names_here:
                assert wf.input_type(served["input"][section][input_name]) == wf.input_type(local[section][input_name])
    # the tiny models written into the host's models/ folders are offered by name
    for (node, input_name), tiny in hs.TINY_MODEL_NAMES.items():
        assert tiny in wf.combo_options(object_info[node]["input"]["required"][input_name]), (node, tiny)
    assert set(tiny_pack.NODE_CLASS_MAPPINGS) <= set(object_info)
    # the metric nodes' old ids still load saved workflows; upstream marks them deprecated (hidden from search)
    for old, new in metric_nodes.DEPRECATED_IDS.items():
        fixed = metric_nodes.DEPRECATED_FIXED.get(old, {})  # inputs the old id lacks (its saved layout)
        assert object_info[old]["input"] == {section: {k: v for k, v in group.items() if k not in fixed}
                                             for section, group in object_info[new]["input"].items()}
        assert object_info[old]["output"] == object_info[new]["output"]
        assert object_info[old].get("deprecated", False) is True
        assert not object_info[new].get("deprecated", False)


def test_old_ids_are_served_as_node_replacements_where_the_host_has_the_api(host, object_info):
    """v0.28 serves the pack's replacements at /node_replacements (its frontend offers them on a loaded
    workflow); v0.3.64 has no such route. The old ids stay registered nodes on both."""
    from comfy_api.latest import io

    if not hasattr(io, "NodeReplace"):
        with pytest.raises(urllib.error.HTTPError):
            host.get("/node_replacements")
        return
    served = host.get("/node_replacements")
    for old, new in metric_nodes.DEPRECATED_IDS.items():
        (entry,) = served[old]
        assert entry["new_node_id"] == new and entry["old_node_id"] == old
        inputs = [name for name, _entry, _required in wf.all_inputs(object_info[old])]
        fixed = metric_nodes.DEPRECATED_FIXED.get(old, {})
        assert entry["input_mapping"] == [{"new_id": name, "old_id": name} for name in inputs] + [
            {"new_id": name, "set_value": value} for name, value in fixed.items()]
        assert entry["old_widget_ids"] == [name for name, _ in wf.widget_inputs(object_info[old])]


def test_the_patch_node_shows_six_widgets_where_the_host_folds_advanced_inputs(object_info):
    """/object_info marks the patch node's rarely changed inputs `advanced` on v0.28 (the frontend folds them);
    v0.3.64 lists every input plainly. The inputs keep their order either way."""
    from style_aligned.nodes.ui import ADVANCED

    spec = object_info["StyleAlignedPatchModel"]
    widgets = wf.widget_inputs(spec)
    folded = [name for name, entry in widgets if wf.input_options(entry).get("advanced")]
    if not ADVANCED:
        assert folded == []
        return
    assert [name for name, entry in widgets if name not in folded] == ["share_attention", "adain_values", "score_shift",
                                                                       "share_group_norm", "layers", "end_percent"]
    assert [name for name, _entry, _required in wf.all_inputs(spec) if not wf.is_widget(_entry)] == \
        ["model", "style_reference"]


def test_every_node_has_its_help_page_where_the_frontend_asks(host, object_info):
    """The frontend asks /extensions/<pack folder>/docs/<node id>/<locale>.md, then
    /extensions/<pack folder>/docs/<node id>.md, the folder taken from the node's python_module."""
    for key, display in pack.display_names().items():
        folder = object_info[key]["python_module"].split(".", 1)[1]
        assert folder == hs.PACK_FOLDER
        page = host.get_text(f"/extensions/{folder}/docs/{key}.md")
        assert page.startswith(f"# {display}\n") and "## When to use it" in page, key
        assert page == (ROOT / "web" / "docs" / f"{key}.md").read_text()
        pictures = re.findall(r"\]\((workflows/[\w.]+\.png)\)", page)  # relative to the page
        assert pictures, key
        for picture in pictures:
            assert host.get_bytes(f"/extensions/{folder}/docs/{picture}").startswith(b"\x89PNG"), picture


def test_no_shipped_workflow_uses_a_node_the_server_marks_deprecated(object_info):
    """/object_info's `deprecated` key, what the frontend reads for its [DEPR] badge, on either host (v0.28
    deprecates Batch Latents, which workflow 06 once used); test_workflows reads the same from the classes."""
    for path in sorted((ROOT / "workflows").glob("*.json")):
        if not harness_host.has(make.NEEDS.get(path.name)):
            continue  # a workflow for a newer host (its test run is skipped here, saying so)
        used = {n["type"] for n in wf.load(path)["nodes"]} - set(wf.FRONTEND_ONLY)
        assert used <= set(object_info), (path.name, sorted(used - set(object_info)))
        assert not {kind for kind in used if object_info[kind].get("deprecated")}, path.name
    assert object_info["ControlNetApply"].get("deprecated") is True  # the key is where the check reads it


@pytest.mark.needs("the main leg")
def test_the_templates_route_lists_every_workflow_with_its_card_picture(host):
    """GET /workflow_templates lists the pack folder's workflows by name; the dialog asks for each card's
    picture at /api/workflow_templates/<folder>/<name>.jpg (the browser %-encodes the spaces)."""
    import urllib.parse

    listed = host.get("/workflow_templates")[hs.PACK_FOLDER]
    assert sorted(listed) == sorted(name.removesuffix(".json") for name in EXPECTED)
    for name in listed:
        base = f"/api/workflow_templates/{hs.PACK_FOLDER}/{urllib.parse.quote(name)}"
        assert host.get_bytes(base + ".jpg")[:3] == b"\xff\xd8\xff", name
        assert host.get(base + ".json")["nodes"], name


@pytest.mark.parametrize("name", RUNS)
def test_shipped_workflow_runs_to_its_outputs(name, host, object_info, weather_url):
    ui = wf.load(ROOT / "workflows" / name)
    # every file the workflow's Load Image / Load Audio nodes name is in the host's input folder (put there by
    # the pack from its sample inputs), and the host offers it by that name
    for node in ui["nodes"]:
        if node["type"] in ("LoadImage", "LoadAudio"):
            file = node["widgets_values"][0]
            assert (host.cwd / "input" / file).is_file(), f"{name}: {node['type']} names {file}, not in input/"
            if node["type"] in object_info:
                assert file in _choices(object_info[node["type"]]), f"{name}: the host does not offer {file}"
    prompt = hs.use_tiny_models(wf.to_api(ui, object_info),
                                overrides={("MultimodalCaption", "weather_base_url"): weather_url})
    assert not any(n["class_type"] in (*hs.TINY_LOADERS, "ControlNetLoader") for n in prompt.values()), \
        "a real model would be loaded"
    audio_files = {n["inputs"]["audio"] for n in prompt.values() if n["class_type"] == "LoadAudio"}
    multimodal = name == MULTIMODAL
    assert audio_files == (set(INPUT_AUDIO) if multimodal else set())
    started = time.monotonic()
    entry = host.run(prompt, timeout=150)
    print(f"\n{name}: {time.monotonic() - started:.1f} s")
    assert entry["status"]["status_str"] == "success" and entry["status"]["completed"]

    saves, previews = EXPECTED[name]
    images = hs.saved_images(entry)
    by_prefix = {}
    for node_id, node in prompt.items():
        if node["class_type"] == "SaveImage":
            by_prefix[node["inputs"]["filename_prefix"]] = images.get(node_id, [])
    assert {p: len(v) for p, v in by_prefix.items()} == saves
    for records in by_prefix.values():
        for record in records:
            path = host.cwd / "output" / record["subfolder"] / record["filename"]
            with Image.open(path) as image:
                assert image.size == (hs.TINY_SIZE, hs.TINY_SIZE)
    videos = {node["inputs"]["filename_prefix"]: images.get(node_id, [])
              for node_id, node in prompt.items() if node["class_type"] == "SaveVideo"}
    assert {p: len(v) for p, v in videos.items()} == {p: 1 for p in CLIPS.get(name, {})}
    for prefix, records in videos.items():  # the clips one after another, the reference first
        with av.open(str(host.cwd / "output" / records[0]["subfolder"] / records[0]["filename"])) as video:
            frames = [frame.to_image().size for frame in video.decode(video=0)]
        assert frames == [(hs.TINY_SIZE, hs.TINY_SIZE)] * (CLIPS[name][prefix] * hs.TINY_FRAMES)
    preview_ids = [i for i, n in prompt.items() if n["class_type"] == "PreviewImage"]
    assert len(preview_ids) == previews and all(len(images.get(i, [])) == 1 for i in preview_ids)

    texts = {node["class_type"]: hs.ui_text(entry, node_id) for node_id, node in prompt.items()}
    if name == "05 SD1.5 style metrics.json":
        assert texts["DinoSetConsistency"].startswith("DINO set consistency: ")
        assert "(4 images, 6 pairs)" in texts["DinoSetConsistency"]
        assert texts["ClipTextAlignment"].startswith("CLIP text alignment: ")
        # the paper protocol: '<object>, <style>' per image, every image of the set counted
        assert "'a bicycle, minimal flat illustration, pastel colours'" in texts["ClipTextAlignment"]
        assert "protocol: paper" in texts["ClipTextAlignment"] and "protocol: paper" in texts["DinoSetConsistency"]
        assert "(3 images, 1 references)" in texts["WeightedDinoScore"]
    if name == MULTIMODAL:
        # Multimodal Caption: the caption, transcript, weather and music of its four sources on one line
        caption, *shown = texts["MultimodalCaption"].split("\n")
        parts = dict(line.split(": ", 1) for line in shown if line.split(": ", 1)[0] in (
            "Image caption", "Speech transcript", "Music mood", "Weather"))
        assert set(parts) == {"Image caption", "Speech transcript", "Music mood", "Weather"}, shown
        assert parts["Image caption"].strip() and "language: en" in parts["Speech transcript"]
        assert parts["Weather"].startswith("clear sky, 22 °C, ") and parts["Weather"] in caption
        music = parts["Music mood"].split("; ")[0]
        assert (music.endswith(" music") and music in caption) or "silent" in music
        assert caption.startswith(parts["Image caption"].replace("; ", ", "))
        assert len(caption.split()) <= 45
        lines = texts["StyleAlignedPromptFusionList"].split("\n")
        assert lines[:3] == [f"{prompt}, {caption}" for prompt in ("a lighthouse", "a cat", "a bicycle")], lines
        assert KEY not in json.dumps(entry) and KEY not in json.dumps(prompt)


def test_a_workflow_error_is_reported_not_hung(host, object_info):
    """A user error (latent rows that do not match the prompts) comes back through /history as an
    error naming the input, and the host keeps serving."""
    ui = wf.load(ROOT / "workflows" / "01 SD1.5 prompts only.json")
    prompt = hs.use_tiny_models(wf.to_api(ui, object_info))
    prompt["900"] = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 2}}
    batch = next(i for i, n in prompt.items() if n["class_type"] == "StyleAlignedBatchPrompts")
    prompt[batch]["inputs"]["latent"] = ["900", 0]
    with pytest.raises(RuntimeError, match="latent has 2 rows but this batch has 4 prompts"):
        host.run(prompt, timeout=60)
    assert host.get("/object_info/StyleAlignedPatchModel")


def test_a_failing_weather_run_leaves_no_key_in_the_history(host, object_info):
    """The server's key (from its environment) is rejected by the weather service: the run stops
    with the message, and neither the stored prompt nor the error in /history holds the key."""
    ui = wf.load(ROOT / "workflows" / MULTIMODAL)
    with inputs.fake_weather_service("another-key") as rejecting_url:
        prompt = hs.use_tiny_models(wf.to_api(ui, object_info),
                                    overrides={("MultimodalCaption", "weather_base_url"): rejecting_url,
                                               ("MultimodalCaption", "weather_on_error"): "stop with message"})
        prompt_id = host.queue(prompt)
        with pytest.raises(RuntimeError, match="rejected the API key"):
            host.wait(prompt_id, timeout=120)
    history = json.dumps(host.get(f"/history/{prompt_id}"))
    assert "rejected the API key" in history and KEY not in history
