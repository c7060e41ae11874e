"""What a user would feed the nodes, made here: images, audio clips and files, and a weather service
on 127.0.0.1."""

import contextlib
import math
import wave
from pathlib import Path

import torch

RATE = 44100


def images(n, h=36, w=28, channels=3, seed=0):
    """An IMAGE batch (n, h, w, channels) of uniform noise in 0..1."""
    return torch.rand(n, h, w, channels, generator=torch.Generator().manual_seed(seed))


def tone(frequencies=(220.0, 440.0), seconds=1.5, rate=RATE, amplitude=0.3):
    """Sines, one channel per frequency: a (channels, samples) tensor."""
    t = torch.arange(int(rate * seconds)) / rate
    return amplitude * torch.stack([torch.sin(2 * math.pi * f * t) for f in frequencies])


def audio(frequencies=(220.0, 440.0), seconds=1.5, rate=RATE):
    """An AUDIO input (the host's type): a stereo chord by default."""
    return {"waveform": tone(frequencies, seconds, rate)[None], "sample_rate": rate}


def write_wav(path, frequencies=(220.0, 440.0), seconds=1.5, rate=RATE):
    """The same chord as a 16-bit PCM WAV file (for the host's LoadAudio)."""
    samples = (tone(frequencies, seconds, rate).T.clamp(-1, 1) * 32767).to(torch.int16)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.numpy().tobytes())


def write_test_image(path: Path, size: int = 64, seed: int = 0) -> None:
    """A smooth colourful PNG (gradients and a disc), so depth/edges/captions get some structure."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    a, b, c = rng.uniform(0.2, 1.0, 3)
    disc = ((x - 0.5) ** 2 + (y - 0.55) ** 2 < 0.08).astype(float)
    rgb = np.stack([a * x + 0.3 * disc, b * y, c * (1 - x) * (1 - disc * 0.5)], axis=-1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(rgb, 0, 1) * 255).astype("uint8")).save(path)


@contextlib.contextmanager
def local_http_server(handler_class):
    """A real HTTP server on 127.0.0.1 (free port) in a thread; yields its base URL."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def fake_weather_service(key, timezone=0):
    """OpenWeatherMap's current-weather endpoint on 127.0.0.1: clear sky, 21.6 °C for `key`, 401
    for any other key. Yields the endpoint URL."""
    import http.server
    import json

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            ok = f"appid={key}" in self.path
            body = ({"weather": [{"description": "clear sky"}], "main": {"temp": 21.6}, "dt": 1700000000,
                     "timezone": timezone} if ok else {"cod": 401, "message": "Invalid API key"})
            raw = json.dumps(body).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    with local_http_server(Handler) as base:
        yield f"{base}/data/2.5/weather"
