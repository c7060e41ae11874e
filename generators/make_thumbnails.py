"""Writes the template cards' pictures: `workflows/<workflow name>.jpg` beside each shipped workflow, where
ComfyUI's Browse Templates dialog looks for a custom node pack's thumbnails (it shows
/api/workflow_templates/<pack folder>/<name>.jpg on the card of <name>.json).

Each picture is a drawing of the workflow's own graph (groups, nodes coloured by role, links), with the
sample input images (example_inputs/) inside the Load Image nodes that name them and the title on top.
Deterministic: tests/host/test_workflows.py draws them again and compares.

    python generators/make_thumbnails.py      (./run make-workflows writes them too)
"""

import io
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
INPUTS = ROOT / "example_inputs"
SIZE = 384
HEADER = 76
MARGIN = 14
QUALITY = 85
TITLE_BAR = 30  # above each node's pos, as the frontend draws it

BACKGROUND = (32, 32, 36)
GRID = (40, 40, 46)
ROLE_COLOURS = {  # node body colour by what the node does
    "loader": (78, 88, 104),
    "ours": (112, 72, 150),
    "sampler": (52, 100, 150),
    "output": (50, 120, 80),
    "image": (150, 110, 50),
    "note": (120, 100, 60),
    "other": (80, 80, 84),
}


def role(node):
    kind = node["type"]
    if kind in ("Note", "MarkdownNote"):
        return "note"
    if kind in ("SaveImage", "PreviewImage"):
        return "output"
    if kind in ("LoadImage", "LoadAudio"):
        return "image"
    if kind.startswith(("StyleAligned", "DDIMInvert", "MultiRef", "Multimodal", "Dino", "Clip", "Weighted",
                        "SaveStyle", "LoadStyle")):
        return "ours"
    if "Loader" in kind:
        return "loader"
    if kind.startswith("KSampler") or kind in ("VAEDecode", "VAEEncode"):
        return "sampler"
    return "other"


def _font(size):
    return ImageFont.load_default(size=size)


def _hex(colour, alpha):
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4)) + (alpha,)


def _wrap(draw, text, font, width):
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) > width and line:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + [line]


def thumbnail(path):
    """The card picture of one workflow file, as an RGB image."""
    graph = json.loads(Path(path).read_text(encoding="utf-8"))
    nodes = graph["nodes"]
    boxes = {n["id"]: (n["pos"][0], n["pos"][1] - TITLE_BAR, n["size"][0], n["size"][1] + TITLE_BAR) for n in nodes}
    areas = list(boxes.values()) + [tuple(g["bounding"]) for g in graph.get("groups", [])]
    left = min(x for x, _, _, _ in areas)
    top = min(y for _, y, _, _ in areas)
    right = max(x + w for x, _, w, _ in areas)
    bottom = max(y + h for _, y, _, h in areas)
    scale = min((SIZE - 2 * MARGIN) / (right - left), (SIZE - HEADER - 2 * MARGIN) / (bottom - top))
    ox = (SIZE - (right - left) * scale) / 2 - left * scale
    oy = HEADER + MARGIN + (SIZE - HEADER - 2 * MARGIN - (bottom - top) * scale) / 2 - top * scale

    def at(x, y):
        return ox + x * scale, oy + y * scale

    image = Image.new("RGB", (SIZE, SIZE), BACKGROUND)
    draw = ImageDraw.Draw(image, "RGBA")
    for x in range(0, SIZE, 16):
        draw.line((x, HEADER, x, SIZE), fill=GRID)
    for y in range(HEADER, SIZE, 16):
        draw.line((0, y, SIZE, y), fill=GRID)
    for group in graph.get("groups", []):
        x, y, w, h = group["bounding"]
        draw.rounded_rectangle((*at(x, y), *at(x + w, y + h)), radius=4, fill=_hex(group["color"], 70),
                               outline=_hex(group["color"], 200), width=1)
    by_id = {n["id"]: n for n in nodes}
    for _link_id, src, src_slot, dst, dst_slot, *_ in graph["links"]:
        a, b = by_id[src], by_id[dst]
        start = at(a["pos"][0] + a["size"][0], a["pos"][1] + 10 + 20 * src_slot)
        end = at(b["pos"][0], b["pos"][1] + 10 + 20 * dst_slot)
        middle = (start[0] + end[0]) / 2
        draw.line((start, (middle, start[1]), (middle, end[1]), end), fill=(150, 160, 175, 150), width=1)
    for node in nodes:
        x, y, w, h = boxes[node["id"]]
        colour = ROLE_COLOURS[role(node)]
        x0, y0 = at(x, y)
        x1, y1 = at(x + w, y + h)
        draw.rounded_rectangle((x0, y0, x1, y1), radius=3, fill=colour + (235,), outline=(20, 20, 20), width=1)
        draw.rectangle((x0 + 1, y0 + 1, x1 - 1, y0 + max(2, TITLE_BAR * scale)), fill=tuple(c // 2 for c in colour))
        picture = _input_picture(node)
        if picture is not None:
            inset = 3
            side = int(min(x1 - x0, y1 - y0 - TITLE_BAR * scale) - 2 * inset)
            if side > 4:
                image.paste(picture.resize((side, side), Image.LANCZOS),
                            (int((x0 + x1 - side) / 2), int(y1 - inset - side)))
    # the title over the graph, as the card names the workflow
    name = Path(path).stem
    number, _, words = name.partition(" ")
    draw.rectangle((0, 0, SIZE, HEADER), fill=(24, 24, 28))
    badge = _font(26)
    draw.rounded_rectangle((MARGIN, 16, MARGIN + 46, 60), radius=8, fill=(112, 72, 150))
    draw.text((MARGIN + 23, 38), number, font=badge, fill=(255, 255, 255), anchor="mm")
    font = _font(22)
    lines = _wrap(draw, words, font, SIZE - 2 * MARGIN - 60)[:2]
    for i, line in enumerate(lines):
        draw.text((MARGIN + 60, 38 + (i - (len(lines) - 1) / 2) * 26), line, font=font, fill=(235, 235, 240),
                  anchor="lm")
    return image


def _input_picture(node):
    if node["type"] != "LoadImage" or not node.get("widgets_values"):
        return None
    source = INPUTS / str(node["widgets_values"][0])
    if not source.is_file():
        return None
    with Image.open(source) as picture:
        return picture.convert("RGB")


def jpeg(image):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY, optimize=True)
    return buffer.getvalue()


def main(argv=None):
    for path in sorted(WORKFLOWS.glob("*.json")):
        out = path.with_suffix(".jpg")
        out.write_bytes(jpeg(thumbnail(path)))
        print("drew", out.relative_to(ROOT))
    for stale in WORKFLOWS.glob("*.jpg"):
        if not stale.with_suffix(".json").exists():
            stale.unlink()


if __name__ == "__main__":
    main(sys.argv[1:])
