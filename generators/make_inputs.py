"""Writes the sample inputs the shipped workflows name (example_inputs/): small pictures and sound clips
drawn here, deterministic, made by us (no third-party images), so that every workflow opens and runs on
a fresh install with only a checkpoint chosen. The pack copies them into ComfyUI's input folder when it
loads, only where a file of that name is not there yet (nodes/example_inputs.py).

    python generators/make_inputs.py          (./run make-workflows writes them too)

    style_reference.png  a lighthouse on a cliff, watercolour-like (the reference-image workflows' reference)
    style_a.png          style A to blend: warm flat shapes (hills, sun)
    style_b.png          style B to blend: blue ink waves and stripes
    content.png          a house with a tree (the multimodal workflow's image to caption)
    control.png          a house and a ball on a floor, lit from the side (the ControlNet workflow's depth source)
    speech.wav           a voice-like placeholder (vowel tones; replace it with a recording of speech)
    music.wav            a few bars of a plucked melody over a chord
"""

import io
import math
import sys
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "example_inputs"
SIZE = 512
RATE = 16000


def _canvas(top, bottom, size=SIZE):
    """A vertical gradient from colour `top` to `bottom`."""
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    rgb = (1 - t) * np.array(top, float) + t * np.array(bottom, float)
    return Image.fromarray(np.repeat(rgb, size, axis=1).round().astype(np.uint8), "RGB")


def _paper(image, seed, strength=10.0, blur=2):
    """Soft blotchy texture (seeded noise, blurred), like paint on paper."""
    rng = np.random.default_rng(seed)
    noise = Image.fromarray((rng.random((SIZE // 8, SIZE // 8)) * 255).astype(np.uint8), "L")
    noise = noise.resize((SIZE, SIZE), Image.BICUBIC).filter(ImageFilter.GaussianBlur(blur))
    grain = (np.asarray(noise, float) / 255.0 - 0.5)[..., None] * strength * 2
    return Image.fromarray(np.clip(np.asarray(image, float) + grain, 0, 255).round().astype(np.uint8), "RGB")


def style_reference():
    image = _canvas((250, 214, 170), (150, 196, 222))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 330, SIZE, SIZE), fill=(60, 118, 160))  # sea
    for i in range(6):  # light on the water
        y = 350 + 26 * i
        draw.line((40 + 30 * i, y, 220 + 20 * i, y), fill=(120, 170, 200), width=3)
    draw.polygon([(250, 512), (300, 300), (360, 260), (470, 250), (512, 280), (512, 512)], fill=(112, 84, 60))
    draw.polygon([(300, 300), (360, 260), (470, 250), (512, 280), (512, 300), (310, 320)], fill=(96, 140, 80))
    draw.polygon([(385, 120), (425, 120), (440, 262), (370, 262)], fill=(240, 236, 226))  # tower
    for y in (150, 200, 240):
        draw.polygon([(381 - (y - 120) * 0.1, y), (429 + (y - 120) * 0.1, y), (431 + (y - 120) * 0.1, y + 18),
                      (379 - (y - 120) * 0.1, y + 18)], fill=(200, 70, 60))
    draw.rectangle((388, 92, 422, 120), fill=(250, 226, 120))  # lamp room
    draw.polygon([(380, 92), (430, 92), (405, 66)], fill=(200, 70, 60))
    draw.polygon([(388, 100), (100, 40), (100, 150)], fill=(252, 236, 180))  # beam
    image = image.filter(ImageFilter.GaussianBlur(1.5))
    return _paper(image, seed=1, strength=14.0)


def style_a():
    image = _canvas((255, 200, 140), (255, 236, 200))
    draw = ImageDraw.Draw(image)
    draw.ellipse((300, 60, 440, 200), fill=(240, 110, 70))  # sun
    colours = [(230, 150, 90), (200, 110, 80), (160, 80, 70)]
    for i, colour in enumerate(colours):
        top = 260 + 70 * i
        points = [(x, top + 40 * math.sin(x / 70 + i * 1.7)) for x in range(0, SIZE + 16, 16)]
        draw.polygon(points + [(SIZE, SIZE), (0, SIZE)], fill=colour)
    return _paper(image, seed=2, strength=6.0)


def style_b():
    image = _canvas((18, 40, 84), (40, 90, 150))
    draw = ImageDraw.Draw(image)
    for i in range(14):
        y0 = 40 + 34 * i
        points = [(x, y0 + 14 * math.sin(x / 30 + i * 0.9)) for x in range(0, SIZE + 8, 8)]
        draw.line(points, fill=(200, 225, 250) if i % 3 == 0 else (90, 150, 210), width=4 if i % 3 == 0 else 2)
    for i in range(5):
        draw.rectangle((60 + 90 * i, 420, 80 + 90 * i, 500), fill=(230, 240, 250))
    return _paper(image, seed=3, strength=8.0, blur=1)


def content():
    image = _canvas((150, 200, 240), (225, 240, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 380, SIZE, SIZE), fill=(110, 170, 90))  # grass
    draw.rectangle((140, 240, 340, 400), fill=(230, 210, 170))  # walls
    draw.polygon([(120, 250), (240, 150), (360, 250)], fill=(170, 60, 50))  # roof
    draw.rectangle((215, 320, 265, 400), fill=(110, 70, 40))  # door
    for x in (160, 285):
        draw.rectangle((x, 275, x + 35, 310), fill=(150, 200, 235), outline=(250, 250, 250), width=4)
    draw.rectangle((408, 300, 428, 410), fill=(110, 80, 50))  # tree
    draw.ellipse((360, 200, 476, 320), fill=(60, 130, 60))
    draw.ellipse((50, 60, 110, 120), fill=(255, 230, 120))  # sun
    return image.filter(ImageFilter.GaussianBlur(0.8))


def control():
    """Shaded shapes with clear near/far structure for a depth estimator."""
    image = _canvas((200, 205, 215), (235, 235, 235))
    draw = ImageDraw.Draw(image)
    for i in range(12):  # floor tiles that shrink towards the horizon
        y = 300 + int(212 * (i / 12) ** 1.6)
        draw.line((0, y, SIZE, y), fill=(150, 150, 160), width=2)
    for i in range(-8, 9):
        draw.line((256 + 8 * i, 300, 256 + 64 * i, SIZE), fill=(150, 150, 160), width=2)
    draw.polygon([(120, 380), (120, 230), (260, 230), (260, 380)], fill=(190, 170, 150))  # house front
    draw.polygon([(260, 380), (260, 230), (330, 200), (330, 340)], fill=(140, 120, 105))  # its side, in shade
    draw.polygon([(110, 232), (190, 150), (270, 232)], fill=(150, 70, 60))
    draw.polygon([(270, 232), (190, 150), (250, 125), (338, 202)], fill=(110, 50, 45))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    ball = (xx - 400) ** 2 + (yy - 410) ** 2 < 60 ** 2
    shade = np.clip(1.1 - np.hypot(xx - 380, yy - 390) / 80, 0.25, 1.0)
    pixels = np.asarray(image, float)
    pixels[ball] = (np.array([90, 130, 200], float)[None] * shade[ball][:, None]) + 40
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), "RGB")


def _wav(samples):
    """16-bit mono PCM WAV bytes of samples in -1..1."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).round().astype("<i2").tobytes())
    return buffer.getvalue()


def speech():
    """Vowel-like voiced sounds (a 120 Hz pitch with formant peaks), syllable by syllable."""
    t = np.arange(int(RATE * 2.4)) / RATE
    formants = [(730, 1090), (270, 2290), (570, 840), (300, 870), (530, 1840), (660, 1720)]
    out = np.zeros_like(t)
    for i, (f1, f2) in enumerate(formants):
        start, length = 0.05 + 0.38 * i, 0.3
        mask = (t >= start) & (t < start + length)
        local = t[mask] - start
        envelope = np.sin(np.pi * local / length) ** 2
        pitch = 120 * (1 + 0.08 * np.sin(2 * np.pi * 3 * local))
        phase = 2 * np.pi * np.cumsum(pitch) / RATE
        voice = sum(np.sin(k * phase) * (1.0 / k) * (np.exp(-((k * 120 - f1) / 150) ** 2)
                                                      + 0.6 * np.exp(-((k * 120 - f2) / 200) ** 2) + 0.05)
                    for k in range(1, 25))
        out[mask] += envelope * voice
    return _wav(0.8 * out / np.abs(out).max())


def music():
    """A plucked melody over a sustained C major chord, 3 s."""
    t = np.arange(int(RATE * 3.0)) / RATE
    chord = sum(0.12 * np.sin(2 * np.pi * f * t) for f in (130.81, 164.81, 196.0))
    melody = np.zeros_like(t)
    notes = [523.25, 659.25, 783.99, 659.25, 587.33, 523.25, 493.88, 523.25]
    for i, f in enumerate(notes):
        start = 0.375 * i
        mask = t >= start
        local = t[mask] - start
        melody[mask] += 0.35 * np.exp(-4 * local) * (np.sin(2 * np.pi * f * local)
                                                      + 0.3 * np.sin(4 * np.pi * f * local))
    fade = np.minimum(1, np.minimum(t / 0.05, (t[-1] - t) / 0.3))
    return _wav((chord + melody) * fade)


IMAGES = {"style_reference.png": style_reference, "style_a.png": style_a, "style_b.png": style_b,
          "content.png": content, "control.png": control}
SOUNDS = {"speech.wav": speech, "music.wav": music}


def files():
    """{file name: bytes} of every sample input."""
    out = {}
    for name, draw in IMAGES.items():
        buffer = io.BytesIO()
        draw().save(buffer, "PNG", optimize=True)
        out[name] = buffer.getvalue()
    out.update({name: make() for name, make in SOUNDS.items()})
    return out


def main(argv=None):
    OUT.mkdir(exist_ok=True)
    made = files()
    for old in OUT.iterdir():
        if old.name not in made and old.suffix in (".png", ".wav"):
            old.unlink()
    for name, data in made.items():
        (OUT / name).write_bytes(data)
        print("wrote", (OUT / name).relative_to(ROOT), f"({len(data) // 1024} KB)")


if __name__ == "__main__":
    main(sys.argv[1:])
