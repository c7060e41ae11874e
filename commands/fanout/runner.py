"""Run a checked plan: one window at a time on each server, every finished window written at once.

The main thread is the only writer: one worker thread per server runs a window through that server's
API and hands the image bytes back; the main thread writes the window's images (temporary names,
then renamed) and then the manifest (temporary file, then renamed). So the manifest only ever names
windows whose images all arrived and are in place, and a rerun of the same command resumes from it.

Faults: a window that a server refuses or fails goes back to the queue for another server (this
server keeps its other windows); a server that stops answering gets no more work and its window goes
back too. A window that every remaining server failed stops the run (after the windows still running
elsewhere are written): the failure is in the workflow, not in a server.
"""

from __future__ import annotations

import json
import os
import queue
import re
import sys
import threading
import time
import uuid
from collections import defaultdict, deque
from pathlib import Path

from .comfy_client import PNG_MAGIC, ServerGoneError, WindowFailedError
from .plan import FanoutError, Plan, Window

MANIFEST = "manifest.json"
FORMAT = "style-aligned-fanout/1"
PARTIAL = ".partial"
# The only names fan-out writes in its output folder, besides MANIFEST: image_name's, and each of those
# with a dot before and PARTIAL after while it is written. A manifest is input: a name in it that is not
# an image name (a path, '..', another file) makes the whole manifest untrusted.
IMAGE_FILE = re.compile(r"\d{5,}(_ref[1-9]\d*)?\.png")


class RunFailedError(Exception):
    """The run stopped before every window was written; the manifest holds the finished ones."""


# ---------------------------------------------------------------- output folder and manifest


def file_names(count: int) -> tuple[int, str]:
    return max(5, len(str(count - 1))), ".png"


def image_name(position: int, row: int, width: int) -> str:
    """`00003.png` for the prompt at position 3; the reference (position 0) is `00000.png`, and with K
    reference rows (an inverted reference of K images) the others are `00000_ref1.png`, ..."""
    return f"{position:0{width}d}.png" if row == 0 else f"{position:0{width}d}_ref{row}.png"


def is_temporary(name: str) -> bool:
    """One of fan-out's temporary names (left behind by a run killed while writing)."""
    inner = name[1:-len(PARTIAL)] if name.startswith(".") and name.endswith(PARTIAL) else ""
    return inner == MANIFEST or bool(IMAGE_FILE.fullmatch(inner))


def is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def listed_files(data: dict) -> list:
    return [name for done in data["windows_done"].values() for name in done["files"]] + [
        image["file"] for image in data["images"]]


def manifest_problem(data) -> str | None:
    """Why `data` is not a manifest of this fan-out (its shape, and only its own image names), else None."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return f'it is not a fan-out manifest: no "format": "{FORMAT}"'
    if not (isinstance(data.get("digest"), str) and isinstance(data.get("windows_done"), dict)
            and isinstance(data.get("images"), list)):
        return "it lacks the digest, windows_done or images of a fan-out manifest"
    if "reference_rows" in data and not (is_count(data["reference_rows"]) and data["reference_rows"] >= 1):
        return f"reference_rows is {data['reference_rows']!r}, not a count of rows"
    for key, done in data["windows_done"].items():
        if not (key.isdigit() and isinstance(done, dict) and isinstance(done.get("files"), list)):
            return f'windows_done entry {key!r} is not a window number with {{"files": [...]}}'
    for image in data["images"]:
        if not (isinstance(image, dict) and is_count(image.get("position")) and is_count(image.get("row", 0))
                and "file" in image):
            return f'image entry {json.dumps(image)[:80]} is not {{"position": N, "file": NAME, ...}}'
    foreign = [name for name in listed_files(data) if not (isinstance(name, str) and IMAGE_FILE.fullmatch(name))]
    if foreign:
        return (f"it names files that fan-out does not write ({', '.join(repr(n) for n in foreign[:3])}); it writes "
                "only NNNNN.png names inside the output folder")
    return None


def remove_own(path: Path) -> None:
    """Remove a file or link of fan-out's own name in the output folder; a link goes, never what it points to."""
    if path.is_symlink() or path.is_file():
        path.unlink()


def write_new(path: Path, data: bytes) -> None:
    """`data` in a new file at `path`, on disk before this returns; whatever was at `path` (a stale temporary,
    a link planted there) is removed first, never written through."""
    remove_own(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # O_EXCL: fails rather than follow a link
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class Output:
    """The output folder: image files and manifest.json, each written under a temporary name first.

    Nothing outside the folder is ever written or removed, and inside it only fan-out's own names
    (IMAGE_FILE, MANIFEST and their temporaries): a manifest is read as input, never trusted."""

    def __init__(self, folder, plan: Plan, workflow_path, restart: bool = False):
        self.folder = Path(folder)
        self.path = self.folder / MANIFEST
        self.plan = plan
        self.data = self._open(workflow_path, restart)

    def _fresh(self, workflow_path) -> dict:
        return {"format": FORMAT, "digest": self.plan.digest, "workflow": str(workflow_path),
                "prompt_count": len(self.plan.prompts), "windows": len(self.plan.windows),
                "window_size": max((w.size for w in self.plan.windows), default=0), "seed": self.plan.seed,
                "style_references": self.plan.references, "output_node": self.plan.output_node,
                "complete": False, "windows_done": {}, "images": []}

    def _open(self, workflow_path, restart: bool) -> dict:
        """Checked before anything is queued or written: a folder of another run, or of something else, is
        refused; --restart removes only the previous run's images."""
        if self.folder.exists() and not self.folder.is_dir():
            raise FanoutError(f"--out {self.folder} is a file, not a folder: give a new or empty folder (or the "
                              "folder of a fan-out run to resume)")
        if self.path.exists() or self.path.is_symlink():
            data = self._read_manifest()
            if restart:
                self._remove_listed(data)
                return self._fresh(workflow_path)
            if data["digest"] != self.plan.digest:
                raise FanoutError(f"{self.folder} holds a run of another workflow, prompt list, window size or "
                                  "output node: use another output folder, or --restart to replace it")
            return self._drop_missing(data)
        if self.folder.exists() and any(not is_temporary(p.name) for p in self.folder.iterdir()):
            raise FanoutError(f"--out {self.folder} is not empty and has no {MANIFEST}: give an empty or new output "
                              "folder")
        return self._fresh(workflow_path)

    def _read_manifest(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            why = f"unreadable: {exc}"
        else:
            why = manifest_problem(data)
        if why:
            raise FanoutError(f"{self.path} is not a manifest of a fan-out run ({why}). Fan-out neither resumes "
                              "nor restarts (--restart) from it, as it cannot tell which files are the run's: give "
                              "another --out folder, or empty this one yourself")
        return data

    def _remove_listed(self, data: dict) -> None:
        for name in listed_files(data):
            remove_own(self.folder / name)
        remove_own(self.path)

    def _has_image(self, name: str) -> bool:
        path = self.folder / name
        return path.is_file() and not path.is_symlink()  # a link may point anywhere: that window runs again

    def _drop_missing(self, data: dict) -> dict:
        """Windows whose files are not all there any more are run again."""
        for key, done in list(data["windows_done"].items()):
            if not all(self._has_image(name) for name in done["files"]):
                del data["windows_done"][key]
        kept = {name for done in data["windows_done"].values() for name in done["files"]}
        data["images"] = [image for image in data["images"] if image["file"] in kept]
        data["complete"] = False
        return data

    def start(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for stale in self.folder.iterdir():  # from a run that was killed while writing
                if is_temporary(stale.name):
                    remove_own(stale)
            self.save()
        except OSError as exc:
            raise FanoutError(f"cannot write into the output folder --out {self.folder}: {exc}") from None

    def done(self, window: Window) -> bool:
        return str(window.index) in self.data["windows_done"]

    def save(self) -> None:
        self.data["complete"] = len(self.data["windows_done"]) == len(self.plan.windows)
        self.data["images"].sort(key=lambda image: (image["position"], image.get("row", 0)))
        temporary = self.folder / f".{MANIFEST}{PARTIAL}"
        write_new(temporary, json.dumps(self.data, indent=1).encode("utf-8"))
        os.replace(temporary, self.path)  # replaces a link at that name, never writes through it

    def write_window(self, window: Window, server: str, prompt_id: str, images: list[bytes], seconds: float) -> int:
        """Write one window's images, then record it; returns the number of new list positions.
        Raises WindowFailedError (nothing written) when the images are not what the window should give."""
        targets = window.positions
        refs = len(images) - len(targets)
        expected = self.data.get("reference_rows")
        if refs < 1 or (expected is not None and refs != expected):
            want = f"{expected} reference row(s)" if expected else "the reference row(s)"
            raise WindowFailedError(f"{server} returned {len(images)} images for window {window.index} "
                               f"({len(targets)} targets and {want}); is --output-node the node that saves the set?")
        bad = [i for i, data in enumerate(images) if not data.startswith(PNG_MAGIC)]
        if bad:
            raise WindowFailedError(f"{server} returned images that are not PNG files (rows {bad}) for window "
                               f"{window.index}")
        width, _ = file_names(len(self.plan.prompts))
        rows = []  # (position, row within the position, noise index, bytes)
        if window.start == 0:  # the reference rows come with every window; written once, from the first
            rows += [(0, r, r, images[r]) for r in range(refs)]
        rows += [(p, 0, refs - 1 + p, images[refs + j]) for j, p in enumerate(targets)]
        names = []
        for position, row, _noise, data in rows:
            name = image_name(position, row, width)
            write_new(self.folder / f".{name}{PARTIAL}", data)
            names.append(name)
        for name in names:
            os.replace(self.folder / f".{name}{PARTIAL}", self.folder / name)
        self.data["reference_rows"] = refs
        for (position, row, noise, _data), name in zip(rows, names, strict=True):
            record = {"position": position, "prompt": self.plan.prompts[position], "file": name, "server": server,
                      "window": window.index, "seed": self.plan.seed, "noise_index": noise, "prompt_id": prompt_id}
            if refs > 1 and position == 0:
                record["row"] = row
            self.data["images"].append(record)
        self.data["windows_done"][str(window.index)] = {
            "server": server, "prompt_id": prompt_id, "window_start": window.start, "window_size": window.size,
            "seconds": round(seconds, 2), "files": names}
        self.save()
        return len({position for position, *_ in rows})


# ---------------------------------------------------------------- progress


class _PlainBar:
    """Stand-in for tqdm: one line per finished window."""

    def __init__(self, total, desc, disable=False, **_):
        self.n, self.total, self.desc, self.disable = 0, total, desc, disable

    def update(self, n):
        self.n += n
        if not self.disable:
            print(f"{self.desc}: {self.n}/{self.total} images", file=sys.stderr, flush=True)

    def set_postfix_str(self, text, refresh=True):
        pass

    def write(self, text):
        print(text, file=sys.stderr, flush=True)

    def close(self):
        pass


def progress_bar(total: int, initial: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = _PlainBar
    bar = tqdm(total=total, desc="fan-out", unit="img", disable=not enabled, dynamic_ncols=True)
    bar.update(initial)
    return bar


# ---------------------------------------------------------------- the run


def _worker(server, plan: Plan, inbox: queue.Queue, results: queue.Queue, client_id: str, timeout: float):
    while True:
        window = inbox.get()
        if window is None:
            return
        started = time.monotonic()
        try:
            prompt_id, entry = server.run(plan.window_prompt(window), client_id, timeout,
                                          on_progress=lambda v, m, w=window: results.put(("progress", server.url,
                                                                                         w, (v, m))))
            output = (entry.get("outputs") or {}).get(plan.output_node) or {}
            records = output.get("images") or []
            if not records:
                raise WindowFailedError(f"{server.url}: node {plan.output_node} gave no images for window "
                                        f"{window.index}")
            images = [server.view(record) for record in records]
            results.put(("done", server.url, window, (prompt_id, images, time.monotonic() - started)))
        except ServerGoneError as exc:
            results.put(("gone", server.url, window, str(exc)))
        except WindowFailedError as exc:
            results.put(("failed", server.url, window, str(exc)))
        except Exception as exc:  # noqa: BLE001  (a bug or odd reply must not hang the run: the window goes back)
            results.put(("failed", server.url, window, f"{server.url}: {type(exc).__name__}: {exc}"))


def run(plan: Plan, out, workflow_path, restart: bool = False, progress: bool = True, window_timeout: float = 3600.0,
        log=None) -> dict:
    """Run every window not yet in the output folder's manifest; returns the manifest.
    Raises RunFailedError when some window could not be run anywhere (the finished ones stay written)."""
    output = Output(out, plan, workflow_path, restart=restart)
    output.start()
    todo = deque(w for w in plan.windows if not output.done(w))
    finished = {image["position"] for image in output.data["images"]}
    bar = progress_bar(len(plan.prompts), len(finished), progress)
    say = log or bar.write
    if len(todo) < len(plan.windows):
        say(f"resuming: {len(plan.windows) - len(todo)} of {len(plan.windows)} windows already in {output.path}")

    client_id = uuid.uuid4().hex
    results: queue.Queue = queue.Queue()
    inboxes = {s.url: queue.Queue() for s in plan.servers}
    threads = [threading.Thread(target=_worker, args=(s, plan, inboxes[s.url], results, client_id, window_timeout),
                                name=f"fanout {s.url}", daemon=True) for s in plan.servers]
    for thread in threads:
        thread.start()
    live = [s.url for s in plan.servers]
    busy: dict[str, Window] = {}
    excluded: dict[int, set] = defaultdict(set)
    errors: dict[int, list] = defaultdict(list)
    steps: dict[str, str] = {}
    stuck: list[int] = []
    try:
        while todo or busy:
            if not stuck:
                for url in live:
                    if url in busy:
                        continue
                    window = next((w for w in todo if url not in excluded[w.index]), None)
                    if window is not None:
                        todo.remove(window)
                        busy[url] = window
                        steps[url] = f"w{window.index} queued"
                        inboxes[url].put(window)
            if not busy:
                break
            try:
                kind, url, window, detail = results.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "progress":
                steps[url] = f"w{window.index} {detail[0]}/{detail[1]}"
                bar.set_postfix_str(" ".join(f"{u.split('//')[-1]}:{s}" for u, s in steps.items()), refresh=True)
                continue
            busy.pop(url, None)
            steps[url] = "idle"
            if kind == "done":
                prompt_id, images, seconds = detail
                try:
                    bar.update(output.write_window(window, url, prompt_id, images, seconds))
                    continue
                except WindowFailedError as exc:
                    kind, detail = "failed", str(exc)
                except OSError as exc:  # disk full, a folder in the way: no other server can help
                    raise RunFailedError(f"cannot write window {window.index} into {output.folder}: {exc}. "
                                         f"{len(output.data['windows_done'])} windows are written; fix the cause "
                                         "and rerun the same command to resume") from None
            if kind == "gone":
                live.remove(url)
                steps[url] = "gone"
                inboxes[url].put(None)
                say(f"{url} stopped answering ({detail}); window {window.index} goes to another server")
            else:
                excluded[window.index].add(url)
                say(f"window {window.index} failed on {url}: {detail}")
            errors[window.index].append(detail)
            todo.appendleft(window)
            if set(live) <= excluded[window.index]:
                stuck.append(window.index)  # no server left to try: finish what runs, then stop
    finally:
        for url in live:
            inboxes[url].put(None)
        bar.close()
    if todo:
        written = len(output.data["windows_done"])
        if not live:
            why = "no server is left answering"
        else:
            why = "; ".join(f"window {i}: {' | '.join(errors[i])}" for i in stuck) or "no server could take them"
        raise RunFailedError(f"{len(todo)} of {len(plan.windows)} windows were not run ({why}). {written} windows are "
                        f"written in {output.folder}; fix the cause and rerun the same command to resume")
    return output.data
