"""Fan-out (commands/fanout) against two headless hosts on 127.0.0.1 with the pack and the tiny models.

- the fanned-out set equals, image by image, the same windows run one after another on one server
  (bit-identical PNG pixels on CPU), and the whole list run as one batch to within one 8-bit level:
  a window's batch has other rows than the one-batch run, so CPU kernels may sum in another order
  (float32 differences of ~1e-6 before the PNG's rounding); one level is the most such a difference
  can move a pixel, anything from a real change (another noise row, another reference) moves many
  pixels by tens of levels. Both for a prompts-only workflow (UI format, converted with the server's
  /object_info) and for one with a saved style reference (API format);
- a server that fails every window: the other one makes them all;
- one server stopped mid-run: every image arrives once, the manifest names each image's server;
- an interrupted run (the client killed) resumed: finished windows are not queued again;
  after each of these faults every file holds its own prompt's image (its row of its window's batch run
  again on a live server), so a window written in another order fails;
- bad input: a clear message, nothing queued, no output folder.

Against stand-in servers (StubComfy, no host): bad input that only a server's answer or the output folder
shows, a manifest that names files outside the output folder or links out of it (nothing outside is
touched), a prompt list with a byte-order mark, and `./run fanout` in its own light environment.

The baselines run after POST /free (the host drops its cached node outputs), and the test checks from
/history that the sampler really ran again.
"""

import base64
import hashlib
import io
import itertools
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext, redirect_stderr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import fanout
import numpy as np
import pytest
import requests
from fanout import __main__ as cli
from harness import inputs, pack, pythonpath
from harness import server as hs
from harness import workflow_api as wf
from PIL import Image

ROOT = pack.ROOT
COMMANDS = ROOT / "commands"
THINGS = ("a lighthouse on a cliff", "a cat", "a bicycle", "a mountain lake", "a teapot", "a violin", "a fox",
          "an umbrella", "a sailing boat", "a cactus", "a clock tower", "a hot air balloon", "a snail")
SAMPLER = "KSampler"


# ---------------------------------------------------------------- two servers


class Hosts:
    """Two headless hosts (A, B) sharing the module; one that a test stopped is started again."""

    def __init__(self, base: Path):
        self.cwds = [hs.prepare_host(base / name, {hs.PACK_FOLDER: ROOT, "style-aligned-test-pack": hs.TINY_PACK})
                     for name in ("a", "b")]
        for cwd in self.cwds:
            inputs.write_test_image(cwd / "input" / "style_reference.png", seed=0)
        self.servers = [None, None]

    def start(self):
        dead = [i for i, s in enumerate(self.servers) if s is None or s.process is None or s.process.poll() is not None]
        for i in dead:
            if self.servers[i] is not None:
                self.servers[i].stop()
            self.servers[i] = hs.HostServer(self.cwds[i])
        failures = []

        def start(server):
            try:
                server.start()
            except Exception as exc:  # noqa: BLE001  (reported below)
                failures.append(exc)

        threads = [threading.Thread(target=start, args=(self.servers[i],)) for i in dead]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        return self

    def stop(self):
        for server in self.servers:
            if server is not None:
                server.stop()

    @property
    def a(self):
        return self.servers[0]

    @property
    def b(self):
        return self.servers[1]

    @property
    def urls(self):
        return [s.url for s in self.servers]


@pytest.fixture(scope="module")
def module_hosts(tmp_path_factory, request):
    hosts = Hosts(tmp_path_factory.mktemp("fanout-hosts"))
    request.addfinalizer(hosts.stop)
    started = time.monotonic()
    hosts.start()
    print(f"\ntwo hosts ready after {time.monotonic() - started:.1f} s")
    return hosts


@pytest.fixture
def hosts(module_hosts):
    return module_hosts.start()


@pytest.fixture(scope="module")
def specs(module_hosts):
    return module_hosts.a.get("/object_info")


# ---------------------------------------------------------------- workflows


def tiny_ui_workflow(specs: dict) -> dict:
    """The shipped SD1.5 prompts-only workflow in UI format, with the tiny checkpoint loader, 64 px and 3 steps:
    the fan-out converts it with the server's node specs."""
    ui = wf.load(ROOT / "workflows" / "01 SD1.5 prompts only.json")
    for node in ui["nodes"]:
        if node["type"] == "CheckpointLoaderSimple":
            node["type"] = "TinyCheckpointLoader"
            node["widgets_values"] = ["sd15", 0]
        elif node["type"] in ("StyleAlignedBatchPrompts", SAMPLER):
            values = wf.widget_values_by_name(node, specs[node["type"]])
            values.update({"width": hs.TINY_SIZE, "height": hs.TINY_SIZE} if node["type"] != SAMPLER
                          else {"steps": hs.TINY_STEPS})
            node["widgets_values"] = wf.ui_widget_values(specs[node["type"]], values)
    return ui


def reference_prompts(specs: dict) -> tuple[dict, dict]:
    """From the shipped reference-image workflow (tiny): (the prompt that inverts the reference image and
    saves it with SaveStyleReference, the generation prompt with LoadStyleReference in place of the inversion).
    The generation's reference name is filled in by the fixture."""
    full = hs.use_tiny_models(wf.to_api(wf.load(ROOT / "workflows" / "03 SDXL reference image.json"), specs))
    kinds = {n["class_type"]: i for i, n in full.items()}
    invert = kinds["DDIMInvertReference"]
    save = {i: n for i, n in full.items() if n["class_type"] in
            ("TinyCheckpointLoader", "LoadImage", "ImageScale", "VAEEncode", "CLIPTextEncode", "DDIMInvertReference")
            and not (n["class_type"] == "CLIPTextEncode" and "blurry" in n["inputs"]["text"])}
    save["900"] = {"class_type": "SaveStyleReference", "inputs": {"style_reference": [invert, 0],
                                                                  "filename_prefix": "fanout/lighthouse"}}
    generate = {i: n for i, n in full.items() if i in ({invert} | _descendants(full, invert) | {kinds["KSampler"]})
                or n["class_type"] in ("TinyCheckpointLoader", "VAEDecode", "SaveImage")
                or (n["class_type"] == "CLIPTextEncode" and "blurry" in n["inputs"]["text"])}
    loader = kinds["TinyCheckpointLoader"]
    generate[invert] = {"class_type": "LoadStyleReference", "inputs": {"model": [loader, 0], "reference": None}}
    return save, generate


def _descendants(prompt, node_id):
    found, frontier = set(), {node_id}
    while frontier:
        frontier = {i for i, n in prompt.items() for v in n["inputs"].values()
                    if isinstance(v, list) and v and v[0] in frontier} - found
        found |= frontier
    return found


@pytest.fixture(scope="module")
def ui_workflow(specs, tmp_path_factory):
    path = tmp_path_factory.mktemp("workflows") / "prompts_ui.json"
    path.write_text(json.dumps(tiny_ui_workflow(specs)))
    return path


@pytest.fixture(scope="module")
def saved_reference(module_hosts, specs):
    """A style reference inverted and saved on A, its file copied into B's folder (as a studio would)."""
    module_hosts.start()
    save, _ = reference_prompts(specs)
    entry = module_hosts.a.run(save, timeout=200)
    name = hs.ui_text(entry, "900").strip()
    source = module_hosts.a.cwd / "models" / "style_references" / name
    assert source.is_file(), list((module_hosts.a.cwd / "models").rglob("*.safetensors"))
    target = module_hosts.b.cwd / "models" / "style_references" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return name


@pytest.fixture(scope="module")
def reference_workflow(saved_reference, specs, tmp_path_factory):
    _, generate = reference_prompts(specs)
    for node in generate.values():
        if node["class_type"] == "LoadStyleReference":
            node["inputs"]["reference"] = saved_reference
    path = tmp_path_factory.mktemp("workflows") / "reference_api.json"
    path.write_text(json.dumps(generate))
    return path


def write_prompts(folder: Path, count: int, tag: str) -> Path:
    """`count` prompts; `tag` makes the list (and so the server's history entries) this test's own."""
    path = folder / f"prompts-{tag}.txt"
    path.write_text("\n".join(f"{thing}, {tag}" for thing in THINGS[:count]) + "\n")
    return path


# ---------------------------------------------------------------- helpers


def fan_out(workflow, prompts, urls, window_size, out, messages=None):
    plan = fanout.prepare(workflow, prompts, urls, window_size)
    return plan, fanout.run(plan, out, workflow, progress=False, log=(messages if messages is not None else []).append)


def pixels(data) -> np.ndarray:
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def batch_images(server, entry) -> list[np.ndarray]:
    """The pixels of a history entry's saved images, in batch row order."""
    (records,) = hs.saved_images(entry).values()
    return [pixels(server.get_bytes(f"/view?filename={r['filename']}&subfolder={r['subfolder']}&type={r['type']}"))
            for r in records]


def fresh_run(server, prompt, timeout=200) -> list[np.ndarray]:
    """Run `prompt` after the host dropped its cached outputs; the sampler must really run."""
    requests.post(server.url + "/free", json={"free_memory": True}, timeout=30).raise_for_status()
    time.sleep(1.5)  # the host's worker applies the flag while idle, before it takes the next prompt
    entry = server.run(prompt, timeout=timeout)
    sampler = next(i for i, n in prompt.items() if n["class_type"] == SAMPLER)
    cached = [set(data.get("nodes", [])) for kind, data in entry.get("status", {}).get("messages", [])
              if kind == "execution_cached"]
    assert not any(sampler in nodes for nodes in cached), "the baseline came from the host's cache"
    return batch_images(server, entry)


def check_images(plan, out: Path, server):
    """Every file holds its own prompt's image: each window's batch is run again on `server` (a window gives the
    same images on any server; the host may answer from its cache, which holds the images it gave before) and
    row k of window w must be the file of position w.start + k (row 0, the reference, is 00000.png)."""
    for window in plan.windows:
        rows = batch_images(server, server.run(plan.window_prompt(window), timeout=200))
        assert len(rows) == 1 + window.size
        for (i, one), (j, other) in itertools.combinations(enumerate(rows), 2):  # so another order shows
            assert not np.array_equal(one, other), f"window {window.index}: rows {i} and {j} are alike"
        for position, row in zip([0, *window.positions], rows, strict=True):
            assert np.array_equal(pixels(out / f"{position:05d}.png"), row), \
                f"{position:05d}.png is not the image of prompt {position} (window {window.index})"


def check_complete(manifest, out: Path, count: int):
    assert manifest["complete"]
    positions = [image["position"] for image in manifest["images"]]
    assert sorted(positions) == list(range(count)), "every prompt once, the reference once"
    files = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert files == sorted(image["file"] for image in manifest["images"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary file left"


def history_windows(server, tag) -> list[int]:
    """window_start of every prompt of this test's list that the server was given."""
    starts = []
    for entry in server.get("/history").values():
        for node in entry["prompt"][2].values():
            if node["class_type"] == "StyleAlignedBatchPrompts" and tag in node["inputs"]["prompts"]:
                starts.append(node["inputs"]["window_start"])
    return starts


# ---------------------------------------------------------------- the same images


@pytest.mark.parametrize("kind", ["prompts-ui", "reference-api"])
def test_fanned_out_set_equals_the_windows_on_one_server_and_one_batch(kind, hosts, request, tmp_path):
    workflow = request.getfixturevalue("ui_workflow" if kind == "prompts-ui" else "reference_workflow")
    prompts = write_prompts(tmp_path, 7, kind)
    out = tmp_path / "set"
    plan, manifest = fan_out(workflow, prompts, hosts.urls, 2, out)
    check_complete(manifest, out, 7)
    assert {image["server"] for image in manifest["images"]} == set(hosts.urls), "both servers worked"
    assert [w.size for w in plan.windows] == [2, 2, 2]
    sampler = next(i for i, n in plan.api.items() if n["class_type"] == SAMPLER)
    for image in manifest["images"]:
        assert image["prompt"] == THINGS[image["position"]] + f", {kind}"
        assert image["seed"] == plan.api[sampler]["inputs"]["seed"] and image["noise_index"] == image["position"]
        assert image["window"] == (image["position"] - 1) // 2 if image["position"] else image["window"] == 0
    fanned = {image["position"]: pixels(out / image["file"]) for image in manifest["images"]}

    one_server = {}
    for window in plan.windows:
        images = fresh_run(hosts.a, plan.window_prompt(window))
        assert len(images) == 1 + window.size
        one_server.setdefault(0, images[0])
        one_server.update(zip(window.positions, images[1:], strict=True))
        assert np.array_equal(images[0], fanned[0]), "every window's reference row is the same image"
    for position, image in fanned.items():
        assert np.array_equal(image, one_server[position]), f"position {position} differs from the windows run in turn"

    whole = dict(plan.api)
    whole[plan.batch_node] = {**whole[plan.batch_node],
                              "inputs": {**whole[plan.batch_node]["inputs"], "window_start": 0, "window_size": 0}}
    one_batch = fresh_run(hosts.a, whole)
    assert len(one_batch) == 7
    for position, image in fanned.items():
        diff = np.abs(image - one_batch[position])
        assert diff.max() <= 1, f"position {position}: max difference {diff.max()} levels from the one batch"
    print(f"\n{kind}: pixels off by one level against the one batch: "
          f"{sum(int((np.abs(fanned[p] - one_batch[p]) > 0).sum()) for p in fanned)} of {7 * fanned[0].size}")


def test_a_server_that_fails_every_window_leaves_them_to_the_other(hosts, saved_reference, reference_workflow,
                                                                   tmp_path):
    """B lists a reference of the same name whose file is damaged: every window fails there and goes to A."""
    damaged = "fanout/damaged.safetensors"
    for server in hosts.servers:
        path = server.cwd / "models" / "style_references" / damaged
        path.parent.mkdir(parents=True, exist_ok=True)
        if server is hosts.a:
            shutil.copyfile(server.cwd / "models" / "style_references" / saved_reference, path)
        else:
            path.write_bytes(b"not a safetensors file")
    workflow = json.loads(reference_workflow.read_text())
    for node in workflow.values():
        if node["class_type"] == "LoadStyleReference":
            node["inputs"]["reference"] = damaged
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(workflow))
    messages = []
    plan, manifest = fan_out(path, write_prompts(tmp_path, 5, "damaged"), hosts.urls, 2, tmp_path / "set", messages)
    check_complete(manifest, tmp_path / "set", 5)
    assert {image["server"] for image in manifest["images"]} == {hosts.a.url}
    assert any(hosts.b.url in m and "not a readable safetensors file" in m for m in messages), messages
    check_images(plan, tmp_path / "set", hosts.a)


def test_a_workflow_every_server_refuses_stops_the_run_incomplete(hosts, specs, tmp_path):
    """A sampler name no server knows: the first window is refused by both, the run stops with the servers'
    message and the manifest says the set is incomplete (no image written)."""
    workflow = tiny_ui_workflow(specs)
    for node in workflow["nodes"]:
        if node["type"] == SAMPLER:
            values = wf.widget_values_by_name(node, specs[SAMPLER])
            node["widgets_values"] = wf.ui_widget_values(specs[SAMPLER], {**values, "sampler_name": "no_such"})
    path = tmp_path / "refused.json"
    path.write_text(json.dumps(workflow))
    out = tmp_path / "set"
    with pytest.raises(fanout.RunFailedError, match="no_such") as failure:
        fan_out(path, write_prompts(tmp_path, 5, "refused"), hosts.urls, 2, out)
    assert "rerun the same command to resume" in str(failure.value)
    manifest = json.loads((out / fanout.MANIFEST).read_text())
    assert not manifest["complete"] and not manifest["images"]
    assert sorted(p.name for p in out.iterdir()) == [fanout.MANIFEST]


# ---------------------------------------------------------------- interruptions


def test_an_interrupted_run_resumes_without_redoing_finished_windows(hosts, ui_workflow, tmp_path):
    tag, count, size = "resumed", 9, 2  # 4 windows of 2 targets: a window's order shows in its files
    prompts = write_prompts(tmp_path, count, tag)
    out = tmp_path / "set"
    command = [sys.executable, "-m", "fanout", *stub_args(ui_workflow, prompts, out, hosts.urls, window_size=size)]
    env = {**os.environ, "PYTHONPATH": pythonpath(extra=os.environ.get("PYTHONPATH"))}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    manifest_path = out / fanout.MANIFEST
    deadline = time.monotonic() + 200
    done = {}
    while time.monotonic() < deadline and first.poll() is None:
        if manifest_path.exists():
            done = json.loads(manifest_path.read_text())["windows_done"]
            if done:
                break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert manifest_path.exists(), f"the first run wrote no manifest:\n{first.stdout.read().decode()}"
    done = json.loads(manifest_path.read_text())["windows_done"]
    assert 1 <= len(done) < 4, f"the client was not killed mid-run ({len(done)} windows done)"

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stderr
    manifest = json.loads(manifest_path.read_text())
    check_complete(manifest, out, count)
    for key, window in done.items():
        assert manifest["windows_done"][key] == window, "a finished window was kept as it was"
    queued = history_windows(hosts.a, tag) + history_windows(hosts.b, tag)
    for window in done.values():
        assert queued.count(window["window_start"]) == 1, f"window {window['window_start']} was queued again"
    assert set(queued) == set(range(0, count - 1, size))
    check_images(fanout.prepare(ui_workflow, prompts, hosts.urls, size), out, hosts.a)


# ---------------------------------------------------------------- bad input


WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's handshake constant
BATCH = "StyleAlignedBatchPrompts"


def colour(prompt: str) -> tuple:
    return tuple(hashlib.sha256(prompt.encode()).digest()[:3])


def solid_png(prompt: str) -> bytes:
    """The stand-in's image of a prompt: 8x8 of a colour that only this prompt gives."""
    data = io.BytesIO()
    Image.new("RGB", (8, 8), colour(prompt)).save(data, format="PNG")
    return data.getvalue()


def ws_frame(message: dict) -> bytes:
    payload = json.dumps(message).encode()
    size = bytes([len(payload)]) if len(payload) < 126 else bytes([126]) + struct.pack(">H", len(payload))
    return bytes([0x81]) + size + payload  # FIN + text frame; a server's frames are not masked


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the websocket handshake answers HTTP/1.1 101

    def do_GET(self):  # noqa: N802  (the base class's name)
        stub, url = self.server, urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/ws":
            return self.websocket(query.get("clientId"))
        if url.path == "/object_info" and stub.object_info is not None:
            info = stub.object_info
            return self.reply(info if isinstance(info, bytes) else json.dumps(info).encode())
        if url.path.startswith("/history/"):
            prompt_id = url.path.rsplit("/", 1)[1]
            return self.reply(json.dumps({k: v for k, v in stub.history.items() if k == prompt_id}).encode())
        if url.path == "/view" and query.get("filename") in stub.files:
            return self.reply(stub.files[query["filename"]], "image/png")
        if url.path == "/queue":
            return self.reply(b'{"queue_running": [], "queue_pending": []}')
        self.reply(b"<html><body>a web page</body></html>", "text/html")

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/prompt":
            return self.reply(json.dumps({"prompt_id": self.server.accept(body), "node_errors": {}}).encode())
        self.reply(b"{}")

    def reply(self, body: bytes, kind="application/json"):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def websocket(self, client_id):
        """Announce the end of each of this client's prompts (as ComfyUI's `executing` with node None)."""
        accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest())
        self.send_response(101)
        for name, value in (("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)):
            self.send_header(name, value if isinstance(value, str) else value.decode())
        self.end_headers()
        announced = set()
        while not select.select([self.connection], [], [], 0.02)[0]:  # until the client closes or writes
            for prompt_id in [p for p, c in list(self.server.clients.items()) if c == client_id and p not in announced]:
                announced.add(prompt_id)
                try:
                    self.wfile.write(ws_frame({"type": "executing", "data": {"node": None, "prompt_id": prompt_id}}))
                except OSError:  # the client went away
                    break
        self.close_connection = True

    def log_message(self, *args):
        pass


class StubComfy(ThreadingHTTPServer):
    """A ComfyUI stand-in on 127.0.0.1: `object_info` as given (bytes as they are; None: a web page for every
    path). A prompt's batch gives one solid_png per row: the reference line, then the window's targets."""

    daemon_threads = True

    def __init__(self, object_info):
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.object_info = object_info
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.queued, self.history, self.files, self.clients = [], {}, {}, {}

    def accept(self, body) -> str:
        prompt, prompt_id = body["prompt"], uuid.uuid4().hex
        self.queued.append(prompt)
        batch = next(n["inputs"] for n in prompt.values() if n["class_type"] == BATCH)
        lines = [line for line in batch["prompts"].split("\n") if line.strip()]
        rows = [lines[0], *lines[1 + batch["window_start"]:][:batch["window_size"] or None]]
        records = []
        for row, text in enumerate(rows):
            records.append({"filename": f"{prompt_id}_{row}.png", "subfolder": "", "type": "output"})
            self.files[records[-1]["filename"]] = solid_png(text)
        save = next(i for i, n in prompt.items() if n["class_type"] == "SaveImage")
        self.history[prompt_id] = {"outputs": {save: {"images": records}},
                                   "status": {"status_str": "success", "completed": True, "messages": []}}
        self.clients[prompt_id] = body.get("client_id")
        return prompt_id


@contextmanager
def stub_servers(*object_infos):
    stubs = [StubComfy(info) for info in object_infos]
    for stub in stubs:
        threading.Thread(target=stub.serve_forever, daemon=True).start()
    try:
        yield stubs
    finally:
        for stub in stubs:
            stub.shutdown()
            stub.server_close()


@contextmanager
def fake_server(object_info=None):
    """One stand-in server's URL."""
    with stub_servers(object_info) as (stub,):
        yield stub.url


def queued_counts(hosts):
    return [len(s.get("/history")) + sum(len(v) for v in s.get("/queue").values()) for s in hosts.servers]


BAD_INPUTS = {
    "a URL that does not answer": r"http://127\.0\.0\.1:\d+ does not answer",
    "a URL that is not ComfyUI": r"is not a ComfyUI server",
    "a server without the pack": r"no Style Aligned Suite on http://127\.0\.0\.1:\d+",
    "a workflow without a batch-prompt node": r"has no Style Aligned Batch Prompts node",
    "an empty prompt list": r"is empty: write one prompt per line",
    "window size 0": r"window size must be 1 or more",
    "a style reference missing on one server": r"'fanout/only_on_a\.safetensors' is not listed by http://127\.0\.0\.1:",
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_before_anything_is_queued(case, hosts, ui_workflow, saved_reference,
                                                        reference_workflow, specs, tmp_path):
    workflow, prompts, window = ui_workflow, write_prompts(tmp_path, 5, "bad"), "2"
    out = tmp_path / "set"
    without_pack = {k: v for k, v in specs.items() if k not in pack.node_classes()}
    fakes = {"a URL that is not ComfyUI": None, "a server without the pack": without_pack}
    with fake_server(fakes[case]) if case in fakes else nullcontext() as fake:
        urls = list(hosts.urls)
        if case == "a URL that does not answer":
            urls.append(f"http://127.0.0.1:{hs.free_port()}")
        elif fake is not None:
            urls.append(fake)
        elif case == "a workflow without a batch-prompt node":
            workflow = tmp_path / "no_batch.json"
            workflow.write_text(json.dumps({"1": {"class_type": "TinyCheckpointLoader",
                                                  "inputs": {"kind": "sd15", "seed": 0}}}))
        elif case == "an empty prompt list":
            prompts.write_text("\n   \n\n")
        elif case == "window size 0":
            window = "0"
        elif case == "a style reference missing on one server":
            only = hosts.a.cwd / "models" / "style_references" / "fanout" / "only_on_a.safetensors"
            shutil.copyfile(hosts.a.cwd / "models" / "style_references" / saved_reference, only)
            api = json.loads(reference_workflow.read_text())
            for node in api.values():
                if node["class_type"] == "LoadStyleReference":
                    node["inputs"]["reference"] = "fanout/only_on_a.safetensors"
            workflow = tmp_path / "only_on_a.json"
            workflow.write_text(json.dumps(api))
        before = queued_counts(hosts)
        stderr = io.StringIO()
        with redirect_stderr(stderr):
            code = cli.main(["--workflow", str(workflow), "--prompts", str(prompts), "--window-size", window,
                             "--out", str(out), "--quiet", "--server", ",".join(urls)])
    message = stderr.getvalue()
    assert code == 2, message
    assert re.search(BAD_INPUTS[case], message), message
    assert "nothing was queued" in message
    if case == "a URL that does not answer":
        assert hosts.a.url not in message and hosts.b.url not in message, "only the bad server is named"
    if case == "a style reference missing on one server":
        assert f"is not listed by {hosts.b.url}\n" in message + "\n" and hosts.a.url not in message
    assert not out.exists(), "no output folder"
    assert queued_counts(hosts) == before, "nothing queued"


def test_an_output_folder_of_another_run_is_refused(hosts, ui_workflow, tmp_path):
    out = tmp_path / "set"
    out.mkdir()
    (out / "holiday.png").write_bytes(b"")
    with pytest.raises(fanout.FanoutError, match="is not empty and has no manifest.json"):
        fan_out(ui_workflow, write_prompts(tmp_path, 3, "folder"), hosts.urls, 1, out)
    assert sorted(p.name for p in out.iterdir()) == ["holiday.png"]


# ---------------------------------------------------------------- against stand-in servers (no host)


STUB_WORKFLOW = {"1": {"class_type": "KSampler", "inputs": {"seed": 7, "latent_image": ["2", 1]}},
                 "2": {"class_type": BATCH, "inputs": {"prompts": "", "style": "", "window_start": 0,
                                                       "window_size": 0}},
                 "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "stub"}}}
STUB_PROMPTS = list(THINGS[:4])


def stub_specs(**batch_inputs) -> dict:
    """A stand-in's /object_info: the stock nodes fan-out looks for, and this pack's batch node with
    `batch_inputs` put in its required inputs (None: that input removed)."""
    specs = {name: {"input": {"required": {}}, "output": [], "output_name": []} for name in ("KSampler", "SaveImage")}
    specs.update(wf.specs_from_classes({BATCH: pack.node_classes()[BATCH]}))
    required = specs[BATCH]["input"]["required"]
    for name, entry in batch_inputs.items():
        required.pop(name) if entry is None else required.update({name: entry})
    return specs


def stub_inputs(folder: Path) -> tuple[Path, Path]:
    (folder / "stub.json").write_text(json.dumps(STUB_WORKFLOW))
    (folder / "prompts.txt").write_text("\n".join(STUB_PROMPTS) + "\n", encoding="utf-8")
    return folder / "stub.json", folder / "prompts.txt"


def stub_args(workflow, prompts, out, urls, *extra, window_size=1) -> list[str]:
    return [str(a) for a in ("--workflow", workflow, "--prompts", prompts, "--window-size", window_size, "--out",
                             out, "--quiet", *[a for u in urls for a in ("--server", u)], *extra)]


def fanout_cli(args) -> tuple[int, str]:
    """`./run fanout ARGS` in this process: (exit status, what it printed on stderr)."""
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        try:
            code = cli.main(args)
        except SystemExit as exc:  # argparse's refusals
            code = exc.code
    return code, stderr.getvalue()


def check_stub_set(out: Path, prompts):
    """Every position's file is a plain PNG of its own prompt's colour (StubComfy's images)."""
    for position, prompt in enumerate(prompts):
        path = out / f"{position:05d}.png"
        assert path.is_file() and not path.is_symlink(), path
        assert tuple(pixels(path)[0, 0]) == colour(prompt), f"{path.name} is not the image of {prompt!r}"


def files_under(folder: Path) -> dict:
    """{relative path: bytes, or the target of a link} of everything under `folder` (links not followed)."""
    found = {}
    for base, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(base) / name
            if path.is_symlink():
                found[str(path.relative_to(folder))] = ("link", os.readlink(path))
            elif path.is_file():
                found[str(path.relative_to(folder))] = path.read_bytes()
    return found


MANIFEST_SHAPES = {
    "a list": [],
    "a list of file names": ["00001.png", "00002.png"],
    "missing fields": {"format": "style-aligned-fanout/1"},
    "windows that are strings": {"format": "style-aligned-fanout/1", "digest": "x", "windows_done": {"0": "x"},
                                 "images": []},
    "images that are strings": {"format": "style-aligned-fanout/1", "digest": "x", "windows_done": {},
                                "images": ["00001.png"]},
}
SERVER_REFUSALS = {  # case -> (/object_info of the second server, or a URL, and what the message must say)
    "a batch node without the window inputs": (
        {"window_start": None, "window_size": None},
        r"\) is another version of the pack: it lacks the input\(s\) window_start \(INT\), window_size \(INT\)"),
    "a batch node whose window_size is text": (
        {"window_size": ["STRING", {}]}, r"another version of the pack: it lacks the input\(s\) window_size \(INT\)"),
    "node specs that are not objects": ("not objects", r"/object_info is malformed \(KSampler: not an object"),
    "node inputs that are not objects": (
        "inputs not objects", rf"/object_info is malformed \({BATCH}: its required inputs are not an object"),
    "a port that is not a number": ("http://127.0.0.1:port", r"--server 'http://127\.0\.0\.1:port': the port must be"),
    "a port above 65535": ("http://127.0.0.1:99999", r"--server 'http://127\.0\.0\.1:99999': the port must be"),
}
REFUSALS = {
    **{case: pattern for case, (_, pattern) in SERVER_REFUSALS.items()},
    "--out names a file": r"--out \S+ is a file, not a folder: give a new or empty folder",
    **{f"--window-timeout {v}": rf"argument --window-timeout: '{v}' is not a number of seconds above 0"
       for v in ("0", "-5", "nan")},
    **{f"a manifest of {shape}{restart}": r"manifest\.json is not a manifest of a fan-out run \(.+\)\. .*give another "
       r"--out folder" for shape in MANIFEST_SHAPES for restart in ("", " with --restart")},
}


def second_server(case: str):
    """(the second stand-in's /object_info, an extra URL) for a server refusal case."""
    what = SERVER_REFUSALS.get(case, (None,))[0]
    if isinstance(what, dict):
        return stub_specs(**what), None
    if what == "not objects":
        return {name: 1 for name in stub_specs()}, None
    if what == "inputs not objects":
        return {**stub_specs(), BATCH: {"input": {"required": [["prompts"]]}}}, None
    return stub_specs(), what


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refusal_names_what_to_change_before_anything_is_queued_or_written(case, tmp_path):
    workflow, prompts = stub_inputs(tmp_path)
    out, extra = tmp_path / "set", []
    if case == "--out names a file":
        out.write_bytes(b"a holiday picture")
    elif case.startswith("--window-timeout"):
        extra = case.split()
    elif case.startswith("a manifest of"):
        out.mkdir()
        shape = case.removeprefix("a manifest of ").removesuffix(" with --restart")
        (out / fanout.MANIFEST).write_text(json.dumps(MANIFEST_SHAPES[shape]))
        (out / "00001.png").write_bytes(b"not fan-out's")
        extra = ["--restart"] if case.endswith("--restart") else []
    info, url = second_server(case)
    before = files_under(tmp_path)
    with stub_servers(stub_specs(), info) as stubs:
        urls = [s.url for s in stubs] + ([url] if url else [])
        code, message = fanout_cli(stub_args(workflow, prompts, out, urls, *extra))
    assert code == 2, message
    assert re.search(REFUSALS[case], message), message
    assert "Traceback" not in message
    if case in SERVER_REFUSALS and url is None:
        assert stubs[1].url in message and stubs[0].url not in message, "the message names the unfit server"
    assert not any(s.queued for s in stubs), "nothing queued"
    assert files_under(tmp_path) == before, "no file written, changed or removed"


def test_a_byte_order_mark_is_not_sent_as_part_of_the_reference(tmp_path):
    workflow, prompts = stub_inputs(tmp_path)
    prompts.write_bytes(b"\xef\xbb\xbf" + prompts.read_bytes())  # as Notepad saves UTF-8
    with stub_servers(stub_specs(), stub_specs()) as stubs:
        code, message = fanout_cli(stub_args(workflow, prompts, tmp_path / "set", [s.url for s in stubs]))
    assert code == 0, message
    sent = [n["inputs"]["prompts"] for s in stubs for p in s.queued for n in p.values() if n["class_type"] == BATCH]
    assert len(sent) == 3 and all(text.split("\n") == STUB_PROMPTS for text in sent), sent
    manifest = json.loads((tmp_path / "set" / fanout.MANIFEST).read_text())
    assert manifest["images"][0]["prompt"] == STUB_PROMPTS[0]
    check_stub_set(tmp_path / "set", STUB_PROMPTS)


def plant_outside_names(out: Path, outside: Path) -> None:
    """The manifest names files outside the folder: relative, absolute, and through a folder name."""
    manifest = json.loads((out / fanout.MANIFEST).read_text())
    names = ["../outside/victim0.txt", str(outside / "victim1.txt"), "00001.png/../../outside/victim2.txt"]
    manifest["windows_done"]["0"]["files"] += names
    manifest["images"] += [{**manifest["images"][0], "file": name} for name in names]
    (out / fanout.MANIFEST).write_text(json.dumps(manifest))


def plant_links(out: Path, outside: Path) -> None:
    """Links out of the folder under fan-out's own names: an image, two temporaries, the manifest."""
    (out / "00001.png").unlink()
    (out / "00001.png").symlink_to(outside / "victim0.txt")
    (out / ".00002.png.partial").symlink_to(outside / "victim1.txt")
    (out / ".manifest.json.partial").symlink_to(outside / "victim2.txt")
    shutil.move(out / fanout.MANIFEST, outside / "manifest.json")
    (out / fanout.MANIFEST).symlink_to(outside / "manifest.json")


@pytest.mark.parametrize("restart", [False, True], ids=["resume", "restart"])
@pytest.mark.parametrize("planted", ["names outside the folder", "links out of the folder"])
def test_a_rerun_touches_nothing_outside_its_output_folder(planted, restart, tmp_path):
    """A manifest is input: whatever it names, a rerun (resumed or --restart) writes and removes only the run's
    own files inside the output folder."""
    workflow, prompts = stub_inputs(tmp_path)
    out, outside = tmp_path / "set", tmp_path / "outside"
    outside.mkdir()
    for i in range(3):
        (outside / f"victim{i}.txt").write_text(f"someone's file {i}")
    with stub_servers(stub_specs(), stub_specs()) as stubs:
        args = stub_args(workflow, prompts, out, [s.url for s in stubs])
        assert fanout_cli(args)[0] == 0
        (plant_outside_names if planted == "names outside the folder" else plant_links)(out, outside)
        kept, inside, queued = files_under(outside), files_under(out), sum(len(s.queued) for s in stubs)
        code, message = fanout_cli(args + (["--restart"] if restart else []))
        rerun = sum(len(s.queued) for s in stubs) - queued
    assert files_under(outside) == kept, "a file outside the output folder was changed or removed"
    assert "Traceback" not in message
    if planted == "names outside the folder":
        assert code == 2, message
        assert "names files that fan-out does not write ('../outside/victim0.txt'" in message, message
        assert files_under(out) == inside and rerun == 0, "refused before anything was written or queued"
    else:
        assert code == 0, message
        check_stub_set(out, STUB_PROMPTS)
        assert not (out / fanout.MANIFEST).is_symlink() and not [p for p in out.iterdir() if p.name.startswith(".")]
        assert rerun == (3 if restart else 1), "resumed: only the window whose image was a link runs again"


def test_run_fanout_builds_a_light_environment_without_host_or_torch(tmp_path):
    """`./run fanout` in a cache without any environment: it builds venv-fanout (requests, websocket-client)
    only, resolves no host, and runs against two stand-ins; fan-out imports nothing of the harness."""
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k not in ("COMFYUI_PATH", "PYTHONPATH", "VIRTUAL_ENV")}
    env["STYLE_ALIGNED_CACHE"] = str(cache)

    def run_fanout(*args):
        return subprocess.run(["bash", str(ROOT / "run"), "fanout", *args], capture_output=True, text=True,
                              timeout=400, env=env)

    helped = run_fanout("--help")
    assert helped.returncode == 0, helped.stderr
    assert "--window-timeout" in helped.stdout
    assert sorted(p.name for p in cache.iterdir()) == ["venv-fanout"], "no host unpacked, no host environment"
    workflow, prompts = stub_inputs(tmp_path)
    with stub_servers(stub_specs(), stub_specs()) as stubs:
        done = run_fanout(*stub_args(workflow, prompts, tmp_path / "set", [s.url for s in stubs], window_size=2))
    assert done.returncode == 0, done.stderr
    assert all(s.queued for s in stubs), "both servers worked"
    check_stub_set(tmp_path / "set", STUB_PROMPTS)
    probe = ("import sys, importlib.util as u; import fanout.__main__, fanout.runner, fanout.workflow; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'harness', 'torch', 'numpy', 'PIL'}), "
             "u.find_spec('torch') is None)")
    seen = subprocess.run([str(cache / "venv-fanout" / "bin" / "python"), "-c", probe], cwd=COMMANDS, env=env,
                          capture_output=True, text=True, timeout=60)
    assert seen.stdout.split() == ["[]", "True"], seen.stdout + seen.stderr


# ---------------------------------------------------------------- last: it stops B (the next test would start it again)


def test_a_server_stopped_mid_run_loses_no_image(hosts, ui_workflow, tmp_path):
    """B is stopped while it runs a window, after it finished one: its window is run by A."""
    prompts = write_prompts(tmp_path, 13, "stopped")
    out = tmp_path / "set"
    plan = fanout.prepare(ui_workflow, prompts, hosts.urls, 2)
    messages, result = [], {}

    def client():
        try:
            result["manifest"] = fanout.run(plan, out, ui_workflow, progress=False, log=messages.append)
        except Exception as exc:  # noqa: BLE001  (reported by the test)
            result["error"] = exc

    thread = threading.Thread(target=client)
    thread.start()
    b, stopped_in = hosts.b, None
    deadline = time.monotonic() + 200
    while time.monotonic() < deadline and thread.is_alive():
        try:
            done = json.loads((out / fanout.MANIFEST).read_text())["windows_done"]
        except (OSError, ValueError):
            done = {}
        if any(w["server"] == b.url for w in done.values()):
            running = b.get("/queue")["queue_running"]
            if running:
                stopped_in = running[0][2][plan.batch_node]["inputs"]["window_start"]
                b.stop()
                break
        time.sleep(0.05)
    thread.join(timeout=300)
    assert stopped_in is not None, "B was never caught running a window"
    assert "error" not in result, result.get("error")
    manifest = result["manifest"]
    check_complete(manifest, out, 13)
    by_window = manifest["windows_done"]
    assert {w["server"] for w in by_window.values()} == {hosts.urls[0], b.url}
    assert next(w for w in by_window.values() if w["window_start"] == stopped_in)["server"] == hosts.urls[0]
    assert any(b.url in m and "stopped answering" in m for m in messages), messages
    for image in manifest["images"]:
        assert image["server"] == by_window[str(image["window"])]["server"]
    check_images(plan, out, hosts.a)
