"""The pieces every shipped workflow is built from: the Builder (nodes laid out as the frontend sizes them, links,
groups, notes), the knobs' notes and the common parts (checkpoint, patch, batch prompts, sampler and save). The
workflow modules (make_workflows and workflow_builders_*) import this; nothing here knows a workflow.
"""


from harness import host, pack
from harness import workflow_api as wf

KEEP_APART = "Keep apart (K references)"  # MultiRefBlend's method that keeps the references apart as K rows

ROOT = pack.ROOT
OUT = ROOT / "workflows"

NEGATIVE = "blurry, low quality, watermark, text, deformed"
PROMPTS = "a house\na cat\na bicycle\na mountain lake"
STYLE = "minimal flat illustration, pastel colours"
REFERENCE_PROMPTS = "a lighthouse on a cliff\na cat\na bicycle\na mountain lake"
COL = 380  # column width on the canvas


def host_specs():
    """Specs of the host's stock nodes and ours, in process (the same rules the server applies)."""
    host.start(cpu=True)
    specs = wf.specs_from_classes(host.stock_nodes())
    specs.update(wf.specs_from_classes(pack.node_classes()))
    return specs


def defaults(spec):
    values = {}
    for name, entry in wf.widget_inputs(spec):
        options = wf.input_options(entry)
        if "default" in options:
            values[name] = options["default"]
        elif wf.input_type(entry) == "COMBO":
            listed = wf.combo_options(entry)
            values[name] = listed[0] if listed else ""
        else:
            values[name] = {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}[wf.input_type(entry)]
    return values


def changed_advanced(spec, widgets):
    """The advanced inputs (folded on the node by hosts that know `advanced`, v0.28) that `widgets` set to
    something other than their default: a workflow that relies on one shows the node unfolded."""
    base = defaults(spec)
    return [name for name, entry in wf.widget_inputs(spec)
            if wf.input_options(entry).get("advanced") and name in widgets and widgets[name] != base[name]]


# ---------------------------------------------------------------- node boxes as the frontend sizes them
#
# On loading a workflow the frontend (ComfyUI_frontend 1.2x, LGraphNode.computeSize, applied by
# app.loadGraphData) makes every node max(saved size, computed size), where the computed height is
# 20 px per slot row (the larger of the linked inputs and the outputs), plus per visible widget its
# height + 4 (20 for numbers, combos, toggles, one-line text and buttons; a DOM widget's minimum,
# 50 for a multiline text box and the audio player; 220 for an image preview), plus 8 under the
# widgets, plus 6. The title bar (30 px) is drawn ABOVE `pos`. We save boxes at least that big, so
# what the generator lays out is what the user sees. Every widget counts, advanced ones included: v0.3.64's
# frontend shows them all, and v0.28's (1.45) shows them once the node is unfolded (`showAdvanced`).

TITLE_HEIGHT = 30
SLOT_HEIGHT = 20
WIDGET_HEIGHT = 20
DOM_MIN_HEIGHT = 50
IMAGE_PREVIEW_HEIGHT = 220
MULTILINE_HEIGHT = 80  # our choice for prompt boxes: room for four lines (the frontend's minimum is 50)
GAP = 30  # between two node boxes (title bars included)
CHAR_WIDTH = 8.4  # the frontend's fallback text measure: 14 px font x 0.6 per character


def widget_heights(kind, spec, multiline=DOM_MIN_HEIGHT):
    """The height of each widget the frontend gives a node of this spec (before the +4 spacing)."""
    heights = []
    for name, entry in wf.widget_inputs(spec):
        options = wf.input_options(entry)
        heights.append(multiline if wf.input_type(entry) == "STRING" and options.get("multiline") else WIDGET_HEIGHT)
        if wf.has_control_after_generate(name, entry):
            heights.append(WIDGET_HEIGHT)  # the control_after_generate combo
        if options.get("image_upload"):
            heights += [WIDGET_HEIGHT, IMAGE_PREVIEW_HEIGHT]  # upload button, preview of the chosen image
        elif options.get("audio_upload"):
            heights += [DOM_MIN_HEIGHT, WIDGET_HEIGHT]  # audio player, upload button
    if kind in ("SaveImage", "PreviewImage"):
        heights.append(IMAGE_PREVIEW_HEIGHT)  # the images shown after a run
    return heights


def frontend_size(kind, spec, node_inputs, outputs, title, width=0, multiline=DOM_MIN_HEIGHT):
    """[width, height] the frontend computes for this node (height without the title bar)."""
    linked = [slot for slot in node_inputs if not slot.get("widget")]
    rows = max(len(linked), len(outputs), 1)
    heights = widget_heights(kind, spec, multiline)
    height = rows * SLOT_HEIGHT + sum(h + 4 for h in heights) + (8 if heights else 0) + 6
    labels = [slot["name"] for slot in linked] + [o["name"] for o in outputs]
    slots = max((len(n) for n in labels), default=0) * CHAR_WIDTH * 2 + 2 * SLOT_HEIGHT + 5
    widgets = max((len(n) for n, _ in wf.widget_inputs(spec)), default=0) * CHAR_WIDTH + 42 + 2 * 31
    title_width = TITLE_HEIGHT * 1.33 + len(title) * CHAR_WIDTH
    return [max(width, 140 * (1.5 if heights else 1), slots, widgets if heights else 0, title_width), height]


def box(node):
    """(x, y, w, h) of a node on the canvas, its title bar included."""
    (x, y), (w, h) = node["pos"], node["size"]
    return x, y - TITLE_HEIGHT, w, h + TITLE_HEIGHT


def overlap(a, b, gap=0):
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    return ax < bx + bw + gap and bx < ax + aw + gap and ay < by + bh + gap and by < ay + ah + gap


class Builder:
    def __init__(self, specs):
        self.specs = specs
        self.nodes = []
        self.links = []
        self.groups = []

    def add(self, kind, col, y, title=None, node_width=340, **widgets):
        """A node with these widget values (`width` is a widget of some nodes: the box's is `node_width`),
        at column `col`, at `y` or further down, below any node already there."""
        spec = self.specs[kind]
        values = defaults(spec)
        unknown = set(widgets) - set(values)
        if unknown:
            raise KeyError(f"{kind} has no widget(s) {sorted(unknown)}")
        values.update(widgets)
        inputs = [{"name": name, "type": entry[0], "link": None}
                  for name, entry, _req in wf.all_inputs(spec) if not wf.is_widget(entry)]
        outputs = [{"name": name, "type": kind_, "links": [], "slot_index": i}
                   for i, (name, kind_) in enumerate(zip(spec.get("output_name") or spec["output"], spec["output"],
                                                         strict=True))]
        size = frontend_size(kind, spec, inputs, outputs, title or kind, node_width, MULTILINE_HEIGHT)
        node = {
            "id": len(self.nodes) + 1, "type": kind, "pos": [40 + col * COL, y], "size": size,
            "flags": {}, "order": 0, "mode": 0, "inputs": inputs, "outputs": outputs,
            "properties": {"Node name for S&R": kind},
            "widgets_values": wf.ui_widget_values(spec, values),
        }
        if changed_advanced(spec, widgets):  # unfold what the workflow sets (boxes fit every widget anyway)
            node["showAdvanced"] = True
        if title:
            node["title"] = title
        return self._place(node)

    def note(self, text, col, y, width=420, height=260):
        node = {"id": len(self.nodes) + 1, "type": "Note", "pos": [40 + col * COL, y], "size": [width, height],
                "flags": {}, "order": 0, "mode": 0, "inputs": [], "outputs": [], "properties": {"text": ""},
                "widgets_values": [text], "color": "#432", "bgcolor": "#653"}
        return self._place(node)

    def _place(self, node):
        """Push the node down until its box (title bar included) keeps GAP from every other box."""
        while True:
            hit = next((other for other in self.nodes if overlap(box(node), box(other), GAP)), None)
            if hit is None:
                break
            node["pos"][1] = hit["pos"][1] + hit["size"][1] + GAP + TITLE_HEIGHT
        self.nodes.append(node)
        return node

    def bottom(self, nodes=None):
        """The lowest box edge of these nodes (all by default)."""
        return max(y + h for _, y, _, h in map(box, nodes or self.nodes))

    def group(self, title, nodes, color):
        """A group (the frontend's titled frame) around these nodes: their boxes, GROUP_PAD around, and
        the group's own title bar above."""
        boxes = [box(n) for n in nodes]
        left, top = min(b[0] for b in boxes) - GROUP_PAD, min(b[1] for b in boxes) - GROUP_PAD - GROUP_TITLE
        right = max(b[0] + b[2] for b in boxes) + GROUP_PAD
        bottom = max(b[1] + b[3] for b in boxes) + GROUP_PAD
        self.groups.append({"id": len(self.groups) + 1, "title": title,
                            "bounding": [left, top, right - left, bottom - top], "color": color,
                            "font_size": 24, "flags": {}})

    def connect(self, src, output, dst, input_name):
        outs = src["outputs"]
        slot = output if isinstance(output, int) else next(
            (i for i, o in enumerate(outs) if o["name"] == output or o["type"] == output), None)
        if slot is None:
            raise KeyError(f"{src['type']} has no output {output!r}")
        spec = self.specs[dst["type"]]
        entry = dict((n, e) for n, e, _ in wf.all_inputs(spec)).get(input_name)
        if entry is None:
            raise KeyError(f"{dst['type']} has no input {input_name!r}")
        index = next((i for i, inp in enumerate(dst["inputs"]) if inp["name"] == input_name), None)
        if index is None:  # a widget converted to an input
            dst["inputs"].append({"name": input_name, "type": wf.input_type(entry), "link": None,
                                  "widget": {"name": input_name}})
            index = len(dst["inputs"]) - 1
        link_id = len(self.links) + 1
        kind = outs[slot]["type"]
        self.links.append([link_id, src["id"], slot, dst["id"], index, kind])
        outs[slot]["links"].append(link_id)
        dst["inputs"][index]["link"] = link_id

    def ui(self):
        # execution order: a topological order of the graph, as the frontend stores it
        deps = {n["id"]: {link[1] for link in self.links if link[3] == n["id"]} for n in self.nodes}
        done, order = set(), []
        while len(order) < len(self.nodes):
            ready = sorted(i for i in deps if i not in done and deps[i] <= done)
            if not ready:
                raise ValueError("cycle in workflow")
            for i in ready:
                done.add(i)
                order.append(i)
        for node in self.nodes:
            node["order"] = order.index(node["id"])
        return {"last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": self.nodes,
                "links": self.links, "groups": self.groups, "config": {},
                "extra": {"ds": {"scale": 0.75, "offset": [0, 0]}}, "version": 0.4}


GROUP_PAD = 10
GROUP_TITLE = 40  # the group's title bar (24 px font)


# ---------------------------------------------------------------- shared pieces

PATCH_NOTE = (
    "Style Aligned Patch Model knobs: share_attention is the method (targets attend to the reference's "
    "keys/values); adain_queries/keys normalise targets to the reference's statistics; adain_values is "
    "stronger but leaks content. score_shift = 0.693 (log 2) doubles the weight of the reference. "
    "layers = 'style blocks' (InstantStyle) shares only the style block: less content leakage, faster. "
    "start/end_percent limit sharing to part of the schedule.")


def checkpoint(b, name, y=60):
    return b.add("CheckpointLoaderSimple", 0, y, ckpt_name=name)


def patch_model(b, ckpt, col, y, style_reference=None, **widgets):
    """Style Aligned Patch Model on the checkpoint's MODEL (and on an inverted reference)."""
    patch = b.add("StyleAlignedPatchModel", col, y, **widgets)
    b.connect(ckpt, "MODEL", patch, "model")
    if style_reference is not None:
        b.connect(style_reference, "STYLE_REFERENCE", patch, "style_reference")
    return patch


def batch_prompts(b, ckpt, col, y, style_reference=None, **widgets):
    """Style Aligned Batch Prompts on the checkpoint's CLIP (and on an inverted reference)."""
    prompts = b.add("StyleAlignedBatchPrompts", col, y, **widgets)
    b.connect(ckpt, "CLIP", prompts, "clip")
    if style_reference is not None:
        b.connect(style_reference, "STYLE_REFERENCE", prompts, "style_reference")
    return prompts


def sample_and_save(b, ckpt, model, positive, negative, latent, col, y, prefix, steps=30, cfg=7.0,
                    scheduler="normal"):
    """KSampler (seed 42, euler) in column `col`, VAE Decode and Save Image in the next; the decoded images.
    `ckpt` is whatever gives the VAE (a checkpoint loader or a VAE loader); `positive` and `negative` are a
    node's CONDITIONING or (node, output name) where it has several."""
    ks = b.add("KSampler", col, y, seed=42, steps=steps, cfg=cfg, sampler_name="euler", scheduler=scheduler,
               denoise=1.0)
    b.connect(model, "MODEL", ks, "model")
    for conditioning, input_name in ((positive, "positive"), (negative, "negative")):
        node, output = conditioning if isinstance(conditioning, tuple) else (conditioning, "CONDITIONING")
        b.connect(node, output, ks, input_name)
    b.connect(latent, "LATENT", ks, "latent_image")
    return decode_and_save(b, ckpt, ks, col + 1, y, prefix)


def decode_and_save(b, ckpt, sampler, col, y, prefix):
    """VAE Decode of `sampler`'s LATENT and Save Image below it, in column `col`; the decoded images."""
    dec = b.add("VAEDecode", col, y)
    b.connect(sampler, "LATENT", dec, "samples")
    b.connect(ckpt, "VAE", dec, "vae")
    save = b.add("SaveImage", col, y + 100, node_width=420, filename_prefix=prefix)
    b.connect(dec, "IMAGE", save, "images")
    return dec


def negative_encoder(b, ckpt, col, y):
    neg = b.add("CLIPTextEncode", col, y, title="Negative prompt", text=NEGATIVE)
    b.connect(ckpt, "CLIP", neg, "clip")
    return neg


DIT_NOTE = (
    "Recipe: AlignedGen (NeurIPS 2025) in its 'fix' mode. The patch shares in the joint text+image attention: "
    "each target's tokens attend to their own tokens and to the reference's IMAGE tokens; AdaIN moves only the "
    "targets' image-token queries and keys, before the rotary embedding as AlignedGen does. layers = auto: "
    "Flux's single-stream blocks, all joint blocks on SD3 and Qwen-Image. reference_positions = shift places the "
    "reference one image width beside each target (ShiftPE), so the style carries over without the layout; none "
    "copies more of the layout. score_scale 1.1 with reference_strength = fixed (AlignedGen's shipped 'fix' "
    "value). Advanced: reference_strength = decrease is AlignedGen's default mode (the reference keys times "
    "(t/1000)^2); reference_positions = untwist follows Untwisting RoPE (2026).")


def zero_negative(b, positive, col, y):
    """Flux dev samples at cfg 1, where the negative is never used: the positive zeroed out fills the slot."""
    neg = b.add("ConditioningZeroOut", col, y, title="Negative (unused at cfg 1)")
    b.connect(positive, "CONDITIONING", neg, "conditioning")
    return neg
