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


class RunFailedError(Exception):
    """The run stopped before every window was written; the manifest holds the finished ones."""


# ---------------------------------------------------------------- output folder and manifest


def file_names(count: int) -> tuple[int, str]:
    return max(5, len(str(count - 1))), ".png"


def image_name(position: int, row: int, width: int) -> str:
    """`00003.png` for the prompt at position 3; the reference (position 0) is `00000.png`, and with K
    reference rows (an inverted reference of K images) the others are `00000_ref1.png`, ..."""
    return f"{position:0{width}d}.png" if row == 0 else f"{position:0{width}d}_ref{row}.png"


class Output:
    """The output folder: image files and manifest.json, each written under a temporary name first."""

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
        """Checked before anything is queued: a folder of another run, or of something else, is refused."""
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise FanoutError(f"{self.path} is not readable ({exc}): use another output folder, or --restart "
                                  "to start this one afresh") from None
            if data.get("format") != FORMAT:
                raise FanoutError(f"{self.path} is not a fan-out manifest: use another output folder")
            if restart:
                self._remove_listed(data)
                return self._fresh(workflow_path)
            if data.get("digest") != self.plan.digest:
                raise FanoutError(f"{self.folder} holds a run of another workflow, prompt list, window size or "
                                  "output node: use another output folder, or --restart to replace it")
            return self._drop_missing(data)
        if self.folder.exists() and any(p for p in self.folder.iterdir() if not p.name.endswith(PARTIAL)):
            raise FanoutError(f"{self.folder} is not empty and has no {MANIFEST}: give an empty or new output folder")
        return self._fresh(workflow_path)

    def _remove_listed(self, data: dict) -> None:
        for image in data.get("images", []):
            (self.folder / image["file"]).unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)

    def _drop_missing(self, data: dict) -> dict:
        """Windows whose files are not all there any more are run again."""
        for key, done in list(data["windows_done"].items()):
            if not all((self.folder / name).is_file() for name in done["files"]):
                del data["windows_done"][key]
        kept = {name for done in data["windows_done"].values() for name in done["files"]}
        data["images"] = [image for image in data["images"] if image["file"] in kept]
        data["complete"] = False
        return data

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(f".*{PARTIAL}"):  # from a run that was killed while writing
            stale.unlink(missing_ok=True)
        self.save()

    def done(self, window: Window) -> bool:
        return str(window.index) in self.data["windows_done"]

    def save(self) -> None:
        self.data["complete"] = len(self.data["windows_done"]) == len(self.plan.windows)
        self.data["images"].sort(key=lambda image: (image["position"], image.get("row", 0)))
        temporary = self.folder / f".{MANIFEST}{PARTIAL}"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

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
            with open(self.folder / f".{name}{PARTIAL}", "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
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
