"""One ComfyUI server seen through its HTTP and websocket API (requests and websocket-client).

What is used: `GET /object_info` (node specs, the style reference list), `POST /prompt` with a
client_id, the websocket `/ws?clientId=...` for progress and the end of a prompt, `GET /history/<id>`
for its outputs, `GET /view` for the image bytes, `GET /queue`, `POST /queue` (delete) and
`POST /interrupt` to take a prompt back.

Errors fall in two kinds, because the caller treats them differently:
- `ServerGoneError`: the server does not answer (refused connection, reset, timeout, websocket dropped
  and HTTP dead too). Its window goes to another server and this one gets no more work in this run.
- `WindowFailedError`: the server answers but refused the prompt or the prompt failed there. Its window
  goes to another server; this server stays in the run for the other windows.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import requests
import websocket

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ServerGoneError(Exception):
    pass


class WindowFailedError(Exception):
    pass


def normalise_url(url: str) -> str:
    """`host:port` or `http://host:port/` -> `http://host:port` (no trailing slash).
    ValueError (the message names --server) for anything requests could not connect to."""
    given = url
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--server {given!r} is not an http(s) URL of a ComfyUI server (e.g. http://127.0.0.1:8188)")
    try:
        port = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        port = 0
    if port == 0 or (port is None and parts.netloc.endswith(":")):
        raise ValueError(f"--server {given!r}: the port must be a number from 1 to 65535 "
                         "(e.g. http://127.0.0.1:8188, ComfyUI's default port)")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def error_text(body) -> str:
    """A readable message from ComfyUI's refusal body ({"error": {...}, "node_errors": {...}})."""
    if not isinstance(body, dict):
        return str(body)[:500]
    error = body.get("error")
    parts = []
    if isinstance(error, dict):
        parts.append(": ".join(str(error.get(k)) for k in ("message", "details") if error.get(k)))
    elif error:
        parts.append(str(error))
    for node_id, problem in (body.get("node_errors") or {}).items():
        for err in (problem or {}).get("errors", []):
            parts.append(f"node {node_id} ({problem.get('class_type')}): {err.get('message')}: {err.get('details')}")
    return "; ".join(p for p in parts if p)[:2000] or json.dumps(body)[:500]


class ComfyServer:
    """A ComfyUI server at `url`; `timeout` is for each HTTP request (a prompt may run much longer)."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.url = normalise_url(url)
        self.timeout = timeout
        self.session = requests.Session()
        parts = urlsplit(self.url)
        self.ws_url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}{parts.path}/ws"

    def __repr__(self):
        return f"ComfyServer({self.url})"

    # ------------------------------------------------------------ plain HTTP

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, self.url + path, timeout=kwargs.pop("timeout", self.timeout),
                                        **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ServerGoneError(f"{self.url} does not answer ({type(exc).__name__})") from None
        except requests.RequestException as exc:  # answered, but not as HTTP that requests can use
            raise WindowFailedError(f"{self.url}{path}: {type(exc).__name__}: {exc}") from None

    def get_json(self, path: str, **kwargs):
        reply = self._request("GET", path, **kwargs)
        if reply.status_code != 200:
            raise WindowFailedError(f"{self.url}{path} answered HTTP {reply.status_code}")
        try:
            return reply.json()
        except ValueError:
            raise WindowFailedError(f"{self.url}{path} did not answer JSON") from None

    def object_info(self) -> dict:
        return self.get_json("/object_info")

    def queue(self, prompt: dict, client_id: str) -> str:
        """POST /prompt -> the prompt id; a refusal (invalid prompt, missing node) is WindowFailedError."""
        reply = self._request("POST", "/prompt", json={"prompt": prompt, "client_id": client_id})
        try:
            body = reply.json()
        except ValueError:
            body = reply.text
        if reply.status_code != 200 or not isinstance(body, dict) or "prompt_id" not in body:
            raise WindowFailedError(f"{self.url} refused the prompt (HTTP {reply.status_code}): {error_text(body)}")
        if body.get("node_errors"):
            raise WindowFailedError(f"{self.url} refused the prompt: {error_text(body)}")
        return body["prompt_id"]

    def history(self, prompt_id: str) -> dict | None:
        """The history entry of a prompt, or None while it is not finished."""
        return self.get_json(f"/history/{prompt_id}").get(prompt_id)

    def view(self, record: dict) -> bytes:
        params = {"filename": record["filename"], "subfolder": record.get("subfolder", ""),
                  "type": record.get("type", "output")}
        reply = self._request("GET", "/view", params=params)
        if reply.status_code != 200:
            raise WindowFailedError(f"{self.url}/view of {record['filename']} answered HTTP {reply.status_code}")
        return reply.content

    def take_back(self, prompt_id: str) -> None:
        """Best effort: delete the prompt from the queue, or interrupt it if it is running now (only ours)."""
        try:
            self._request("POST", "/queue", json={"delete": [prompt_id]}, timeout=5)
            running = self.get_json("/queue", timeout=5).get("queue_running", [])
            if any(len(item) > 1 and item[1] == prompt_id for item in running):
                self._request("POST", "/interrupt", json={"prompt_id": prompt_id}, timeout=5)
        except (ServerGoneError, WindowFailedError):
            pass

    # ------------------------------------------------------------ one prompt to its end

    def connect(self, client_id: str, poll: float):
        """The websocket for this client id (connect before queueing, so no message is missed)."""
        try:
            return websocket.create_connection(f"{self.ws_url}?clientId={client_id}", timeout=poll)
        except (OSError, websocket.WebSocketException) as exc:
            raise ServerGoneError(f"{self.url}: the websocket /ws does not connect ({exc})") from None

    def run(self, prompt: dict, client_id: str, timeout: float, on_progress=None, poll: float = 2.0) -> tuple:
        """Queue `prompt` and wait for its end -> (prompt id, history entry).

        Progress and the end come over the websocket; every `poll` seconds without a message the
        history is asked too, so a missed message or a dropped websocket only slows the answer."""
        ws = self.connect(client_id, poll)
        prompt_id = None
        try:
            prompt_id = self.queue(prompt, client_id)
            deadline = time.monotonic() + timeout
            while True:
                if time.monotonic() > deadline:
                    self.take_back(prompt_id)
                    raise ServerGoneError(f"{self.url} did not finish prompt {prompt_id} within {timeout:.0f} s")
                message = None
                if ws is not None:
                    try:
                        message = ws.recv()
                    except websocket.WebSocketTimeoutException:
                        pass
                    except (OSError, websocket.WebSocketException):
                        ws = None  # dropped: the history (below) says whether the server is still there
                if message is None or isinstance(message, bytes):  # bytes: preview images
                    entry = self._finished(prompt_id)
                    if entry is not None:
                        return prompt_id, entry
                    if ws is None:
                        time.sleep(poll)
                    continue
                try:
                    kind, data = self._parse(message)
                except ValueError:
                    continue
                if data.get("prompt_id") != prompt_id:
                    continue
                if kind == "progress" and on_progress is not None:
                    on_progress(data.get("value"), data.get("max"))
                elif kind == "execution_error":
                    raise WindowFailedError(f"{self.url}: {data.get('node_type')} (node {data.get('node_id')}) failed: "
                                       f"{data.get('exception_message', '').strip()}")
                elif kind == "execution_interrupted":
                    raise WindowFailedError(f"{self.url}: the prompt was interrupted on the server")
                elif kind == "executing" and data.get("node") is None:
                    return prompt_id, self._wait_history(prompt_id, deadline, poll)
        finally:
            if ws is not None:
                ws.close()

    @staticmethod
    def _parse(message: str):
        body = json.loads(message)
        if not isinstance(body, dict):
            raise ValueError("not a message")
        return body.get("type"), body.get("data") or {}

    def _finished(self, prompt_id: str) -> dict | None:
        entry = self.history(prompt_id)
        if not entry:
            return None
        status = entry.get("status") or {}
        if status.get("status_str") == "error":
            raise WindowFailedError(f"{self.url}: prompt failed: {self._status_error(status)}")
        if status.get("completed") or (entry.get("outputs") and not status):
            return entry
        if status:  # finished, neither completed nor error: interrupted
            raise WindowFailedError(f"{self.url}: the prompt ended without completing ({status.get('status_str')})")
        return None

    def _wait_history(self, prompt_id: str, deadline: float, poll: float) -> dict:
        while time.monotonic() < deadline:
            entry = self._finished(prompt_id)
            if entry is not None:
                return entry
            time.sleep(min(poll, 0.2))
        raise ServerGoneError(f"{self.url} said prompt {prompt_id} ended but its history never came")

    @staticmethod
    def _status_error(status: dict) -> str:
        for kind, data in status.get("messages") or []:
            if kind == "execution_error":
                return f"{data.get('node_type')} (node {data.get('node_id')}): {data.get('exception_message', '')}"
        return json.dumps(status)[:500]
