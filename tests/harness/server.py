"""Run a ComfyUI host headless on 127.0.0.1 with the pack in its custom_nodes, queue API prompts and
wait for their results: upstream ComfyUI from COMFYUI_PATH (see harness.host). Used by the server tests and
commands/demo.py.

No host import here: the server is a child process in its own process group, always stopped
(SIGTERM, then SIGKILL) when the context exits, also on errors.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from . import host, pack, pythonpath

ROOT = pack.ROOT
PACK_FOLDER = "comfyui-style-aligned-suite"
TINY_PACK = Path(__file__).resolve().parent / "tiny_pack"

# Tiny stand-ins for the names the shipped workflows use (see tiny_pack/ and tiny_*.py beside this file).
TINY_MODEL_NAMES = {
    ("StyleAlignedImageCaption", "model"): "tiny-blip",
    ("StyleAlignedSpeechTranscript", "model"): "tiny-random.pt",
    ("StyleAlignedMusicMood", "model"): "tiny-clap",
    ("StyleAlignedDepthMap", "model"): "tiny-dpt",
    ("MultimodalCaption", "caption_model"): "tiny-blip",
    ("MultimodalCaption", "speech_model"): "tiny-random.pt",
    ("MultimodalCaption", "music_model"): "tiny-clap",
    ("DinoSetConsistency", "model"): "tiny-dino",
    ("WeightedDinoScore", "model"): "tiny-dino",
    ("ClipTextAlignment", "model"): "tiny-clip",
    # the metric nodes' old ids (deprecated), in workflows saved before the rename
    ("StyleAlignedDinoSetConsistency", "model"): "tiny-dino",
    ("StyleAlignedWeightedDinoScore", "model"): "tiny-dino",
    ("StyleAlignedClipTextAlignment", "model"): "tiny-clip",
}
TINY_SIZE = 64
TINY_STEPS = 3
TINY_FRAMES = 5  # video frames of a tiny clip (2 latent frames)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_command(cwd: Path) -> list[str]:
    """The command that starts the host with its folders (custom_nodes, models, input, output) in `cwd`."""
    # --base-directory moves the host's folders (custom_nodes, models, input, output, user) there
    return [sys.executable, str(host.checkout() / "main.py"), "--base-directory", str(Path(cwd).resolve())]


def prepare_host(cwd: Path, packs: dict[str, Path]) -> Path:
    """A host folder whose custom_nodes/ links each pack (folder name -> source folder)."""
    cwd = Path(cwd)
    for sub in ("custom_nodes", "input", "output", "user", "models/checkpoints"):
        (cwd / sub).mkdir(parents=True, exist_ok=True)
    for name, source in packs.items():
        link = cwd / "custom_nodes" / name
        if link.is_symlink() or link.exists():
            if link.is_symlink() and link.resolve() == Path(source).resolve():
                continue
            if link.is_symlink():
                link.unlink()
            else:
                raise RuntimeError(f"{link} exists and is not our link; remove it or choose another host folder")
        link.symlink_to(Path(source).resolve(), target_is_directory=True)
    Path.home().joinpath(".cache", "huggingface", "hub").mkdir(parents=True, exist_ok=True)  # /object_info needs it
    return cwd


class HostServer:
    """`with HostServer(cwd) as host:` a running headless host; `host.run(prompt)` -> history entry."""

    def __init__(self, cwd: Path, env: dict | None = None, port: int | None = None, startup_timeout: float = 120.0,
                 offline: bool = True):
        self.cwd = Path(cwd)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        hub = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"} if offline else {}
        # tiny_pack imports the harness: it goes on the server's path (after the host's own folder)
        path = pythonpath(extra=os.environ.get("PYTHONPATH"))
        self.env = {**os.environ, **hub, "PYTHONPATH": path, **(env or {})}
        self.startup_timeout = startup_timeout
        self.process = None
        self.log_path = self.cwd / "host.log"
        self.client_id = uuid.uuid4().hex

    # ------------------------------------------------------------ lifecycle

    def start(self):
        command = host_command(self.cwd) + ["--cpu", "--listen", "127.0.0.1", "--port", str(self.port)]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the host exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.get("/object_info", timeout=5)
                return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        raise TimeoutError(f"the host did not answer within {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=10)
        self._log.close()
        self.process = None

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ------------------------------------------------------------ HTTP

    def get(self, path: str, timeout: float = 30.0):
        return json.loads(self.get_bytes(path, timeout))

    def get_text(self, path: str, timeout: float = 30.0) -> str:
        return self.get_bytes(path, timeout).decode()

    def get_bytes(self, path: str, timeout: float = 30.0) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as reply:
            return reply.read()

    def post(self, path: str, body: dict, timeout: float = 30.0):
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"POST {path} refused ({exc.code}): {exc.read().decode(errors='replace')}") from None

    def queue(self, prompt: dict) -> str:
        return self.post("/prompt", {"prompt": prompt, "client_id": self.client_id})["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 300.0, poll: float = 0.5) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the host died:\n{self.log_tail()}")
            history = self.get(f"/history/{prompt_id}")
            entry = history.get(prompt_id)
            if entry and (entry.get("status", {}).get("completed") or entry.get("outputs")
                          or entry.get("status", {}).get("status_str") == "error"):
                status = entry.get("status", {})
                if status.get("status_str") == "error":
                    raise RuntimeError(f"prompt {prompt_id} failed: {json.dumps(status.get('messages'))[:3000]}")
                return entry
            time.sleep(poll)
        raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout:.0f} s:\n{self.log_tail()}")

    def run(self, prompt: dict, timeout: float = 300.0) -> dict:
        return self.wait(self.queue(prompt), timeout)


# ---------------------------------------------------------------- tiny substitution


TINY_LOADERS = {  # the host's loader -> (its file input, the tiny_pack loader with the same outputs)
    "CheckpointLoaderSimple": ("ckpt_name", "TinyCheckpointLoader"),
    "UNETLoader": ("unet_name", "TinyDiffusionModelLoader"),
    "DualCLIPLoader": ("clip_name1", "TinyTextEncoderLoader"),
    "CLIPLoader": ("clip_name", "TinyTextEncoderLoader"),
    "VAELoader": ("vae_name", "TinyVAELoader"),
}


def tiny_family(name: str) -> str:
    """The tiny model standing in for a checkpoint file name (or a text encoder loader's type)."""
    name = name.lower()
    for word, family in (("wan2.1", "wan21"), ("wan2_1", "wan21"), ("wan", "wan22"),
                         ("klein", "flux2_klein"), ("flux2", "flux2_klein"), ("flux-2", "flux2_klein"),
                         ("edit_2511", "qwen_image_edit_2511"), ("hunyuan", "hunyuan_image"),
                         ("kandinsky", "kandinsky5"),
                         ("z_image", "z_image"), ("lumina2", "z_image"), ("krea2", "krea2"), ("boogu", "boogu"),
                         ("qwen", "qwen_image"), ("schnell", "flux_schnell"), ("flux", "flux"), ("ae.", "flux"),
                         ("sd3", "sd3"), ("xl", "sdxl")):
        if word in name:
            return family
    return "sd15"


def use_tiny_models(prompt: dict, size: int = TINY_SIZE, steps: int = TINY_STEPS, audio_frequency: float = 220.0,
                    overrides: dict | None = None) -> dict:
    """A copy of an API prompt with the stock loaders swapped for tiny_pack's tiny ones, the
    pack's model names for the tiny local models, and sizes/steps small enough for a CPU."""
    out = json.loads(json.dumps(prompt))
    for node in out.values():
        kind, inputs = node["class_type"], node["inputs"]
        if kind in TINY_LOADERS:
            file_input, tiny_loader = TINY_LOADERS[kind]
            family = tiny_family(inputs.get("type") or inputs[file_input])
            node.update(class_type=tiny_loader, inputs={"kind": family, "seed": 0})
        elif kind == "ControlNetLoader":
            family = "sdxl" if "xl" in inputs["control_net_name"].lower() else "sd15"
            node.update(class_type="TinyControlNetLoader", inputs={"kind": family})
        elif kind in ("StyleAlignedBatchPrompts", "ImageScale"):
            inputs.update(width=size, height=size, **({"length": TINY_FRAMES} if "length" in inputs else {}))
        elif kind in ("KSampler", "DDIMInvertReference", "StyleAlignedSetSampler", "Flux2Scheduler"):
            inputs["steps"] = steps
        elif kind == "RepeatImageBatch":
            inputs["amount"] = TINY_FRAMES
        elif kind == "StyleAlignedImageCaption":
            inputs["max_new_tokens"] = 4
        elif kind == "StyleAlignedSpeechTranscript":
            inputs["language"] = "en"
        elif kind == "MultimodalCaption":
            inputs.update(caption_max_new_tokens=4, speech_language="en")
        for (model_kind, name), tiny in TINY_MODEL_NAMES.items():
            if node["class_type"] == model_kind and name in inputs:
                inputs[name] = tiny
        for (override_kind, name), value in (overrides or {}).items():
            if node["class_type"] == override_kind and name in inputs:
                inputs[name] = value
    return out


def write_tiny_pretrained(models_dir: Path, kinds=("blip", "clap", "dpt", "whisper", "dino", "clip")) -> None:
    """The tiny BLIP/Whisper/CLAP/DPT/DINO/CLIP test models, under the names TINY_MODEL_NAMES uses."""
    from . import tiny_hf, tiny_vision

    models_dir = Path(models_dir)
    steps = {
        models_dir / "blip" / "tiny-blip": tiny_hf.blip,
        models_dir / "clap" / "tiny-clap": tiny_hf.clap,
        models_dir / "dpt" / "tiny-dpt": tiny_hf.dpt,
        models_dir / "whisper" / "tiny-random.pt": tiny_hf.whisper_checkpoint,
        models_dir / "dino" / "tiny-dino": tiny_vision.save_tiny_dino,
        models_dir / "clip" / "tiny-clip": tiny_vision.save_tiny_clip,
    }
    for path, make in steps.items():
        if path.parent.name in kinds and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            make(path)


def saved_images(entry: dict) -> dict:
    """{node id: [image records]} of a history entry."""
    return {node: out["images"] for node, out in entry.get("outputs", {}).items() if out.get("images")}


def ui_text(entry: dict, node_id: str) -> str:
    text = entry.get("outputs", {}).get(str(node_id), {}).get("text") or []
    return "\n".join(str(t) for t in text)
