"""Writes docs/nodes.md (every node's inputs, defaults and tooltips, from INPUT_TYPES), one help page
per node in web/docs/<node id>.md (what ComfyUI's node docs panel shows for a custom node: the pack's
WEB_DIRECTORY is web/), and a picture of every shipped workflow's graph in web/docs/workflows/ (shown
on the help pages too).

    ./run make-docs                    # after changing a node or a workflow
    python generators/make_docs.py --check  # what tests/host/test_docs.py runs
"""

import json
import sys
from pathlib import Path

from harness import host, pack
from harness import workflow_api as wf
from make_workflows import WORKFLOWS, slug

ROOT = pack.ROOT
DOCS = ROOT / "docs"
HELP = ROOT / "web" / "docs"

# A shipped workflow (its file in workflows/) that shows the node at work: its picture goes on the help page.
EXAMPLE = {
    "StyleAlignedPatchModel": "02 SDXL prompts only.json",
    "StyleAlignedBatchPrompts": "01 SD1.5 prompts only.json",
    "StyleAlignedSetSampler": "19 SDXL whole set one press.json",
    "StyleAlignedSetSamplerCustom": "20 FLUX.2 Klein whole set.json",
    "DDIMInvertReference": "03 SDXL reference image.json",
    "SaveStyleReference": "03 SDXL reference image.json",
    "LoadStyleReference": "03 SDXL reference image.json",
    "MultiRefBlend": "06 SD1.5 blend two styles.json",
    "StyleAlignedDepthMap": "04 SD1.5 depth ControlNet.json",
    **{key: "07 SDXL multimodal prompts.json" for key in (
        "MultimodalCaption", "StyleAlignedImageCaption", "StyleAlignedSpeechTranscript", "StyleAlignedWeatherPhrase",
        "StyleAlignedMusicMood", "StyleAlignedPromptFusion", "StyleAlignedPromptFusionList")},
    **{key: "05 SD1.5 style metrics.json" for key in ("DinoSetConsistency", "ClipTextAlignment", "WeightedDinoScore")},
}
assert set(EXAMPLE.values()) <= set(WORKFLOWS), "EXAMPLE names a workflow that is not shipped"
# Nodes whose example workflow runs them inside another node (Multimodal Caption runs the modality nodes).
INSIDE = {key: "MultimodalCaption" for key in (
    "StyleAlignedImageCaption", "StyleAlignedSpeechTranscript", "StyleAlignedWeatherPhrase", "StyleAlignedMusicMood",
    "StyleAlignedPromptFusion")}

# The part of a help page that INPUT_TYPES cannot say: when to reach for the node.
WHEN_TO_USE = {
    "StyleAlignedPatchModel": "Put it between your checkpoint loader and the sampler whenever a batch should share "
    "one style: the first image of the batch (the reference) sets the style, every other image takes it. Use "
    "'style blocks' when the targets copy too much of the reference's content, score_shift 0.693 (log 2) for a "
    "stronger transfer from an inverted reference image. On Flux, SD3.5 and Qwen-Image it shares in the joint "
    "text+image attention (layers auto = Flux's single-stream blocks); keep reference_positions on shift so the "
    "targets take the style without the reference's layout (workflows '08 Flux prompts only', "
    "'09 Flux reference image', '10 SD3.5 prompts only', '11 Qwen-Image prompts only'; Z-Image, Krea 2, "
    "Qwen-Image-Edit 2511, HunyuanImage 2.1, FLUX.2 Klein and Wan 2.2 clips have workflows 12 to 18).",
    "StyleAlignedBatchPrompts": "Use it instead of a text encode node when you have a list of subjects for one "
    "set: it makes one conditioning row per line and the matching empty latent (clips of 'length' frames on Wan). "
    "For long lists connect prompt_set to Style Aligned Set Sampler (one press), or queue several windows; each "
    "keeps the same reference row, so the batches match.",
    "StyleAlignedSetSampler": "Use it in place of KSampler when the list is longer than one batch fits on your "
    "card: it samples the reference plus window_size targets at a time, one window after another in one press, "
    "and returns the whole set in prompt order. Pick window_size from the README's table for your card.",
    "StyleAlignedSetSamplerCustom": "Use it in place of SamplerCustomAdvanced when your graph samples with "
    "custom sampling (FLUX.2's Flux2Scheduler, a sigmas node, a sampler node) and the list is longer than one "
    "batch fits: connect the noise, sampler and sigmas you would give SamplerCustomAdvanced and its guider's cfg.",
    "DDIMInvertReference": "Use it when the style should come from an existing image: VAE Encode the image, "
    "invert it here, and connect the result to the patch node and the batch-prompts node. Invert once and save "
    "the result with Save Style Reference to reuse it.",
    "SaveStyleReference": "Keep an inverted reference for later sessions or other machines, so the style can be "
    "reused without inverting again.",
    "LoadStyleReference": "Reuse a style reference saved earlier; it is checked against the connected model.",
    "MultiRefBlend": "Mix the styles of several reference images before inverting them: Linear for similar "
    "images, SLERP (which keeps the latent's norm) for different ones. Or keep them apart (Keep apart (K "
    "references)) to invert them together as K references, so every target attends to each with its own weight "
    "(the patch's reference_weights): weighted multi-reference attention, the third pipeline of workflow 06.",
    "MultimodalCaption": "Turn whatever you have of an image, spoken audio, music and a place into one caption for "
    "the prompts, in one node: it runs the Image Caption, Speech Transcript, Music Mood and Weather Phrase nodes "
    "on the sources you connect and fuses their text as Prompt Fusion does. Use the separate nodes when you "
    "want one source's text on its own.",
    "StyleAlignedImageCaption": "Turn an image into words for the prompts, for example to describe a content "
    "image or the style reference.",
    "StyleAlignedSpeechTranscript": "Turn spoken audio into prompt text.",
    "StyleAlignedWeatherPhrase": "Add today's weather at a place to the prompts. The key stays in an environment "
    "variable on the machine that runs ComfyUI.",
    "StyleAlignedMusicMood": "Let a piece of music set the mood words of the prompts.",
    "StyleAlignedPromptFusion": "Combine a prompt with captions, transcripts, weather and music into one prompt.",
    "StyleAlignedPromptFusionList": "The same as Prompt Fusion, but one line per image, for the batch-prompts node.",
    "StyleAlignedDepthMap": "Make a depth map from a content image for a depth ControlNet; the reference row gets "
    "no control, so the style source stays itself.",
    "DinoSetConsistency": "Measure how alike in style a generated set is (higher = more consistent), "
    "as in the StyleAligned paper.",
    "ClipTextAlignment": "Check that each image still shows its own prompt (higher = closer to the "
    "text), the other half of the paper's trade-off.",
    "WeightedDinoScore": "Measure how close a set is to several weighted style references (Z-SAMB).",
}


def load_pack():
    """The pack's ({node id: class}, {node id: display name}), loaded by path and registered as the host
    would, after starting the in-process host."""
    host.start(cpu=True)
    return pack.node_classes(), pack.display_names()


def _type_name(spec):
    kind = spec[0]
    if isinstance(kind, (list, tuple)) or kind == "COMBO":  # classic list, or a V3 combo's options
        listed = wf.combo_options(spec)
        shown = ", ".join(str(v) for v in listed[:8]) + (", …" if len(listed) > 8 else "")
        return f"choice ({shown})"
    return str(kind)


def _default(options):
    if "default" not in options:
        return ""
    value = options["default"]
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
    text = text.replace("\\n", " / ")
    return text if len(text) <= 60 else text[:57] + "…"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def node_section(key, cls, display):
    return "\n".join([f"## {display} (`{key}`)", "", _cell(_description(cls)), "", io_tables(cls)])


def _description(cls):
    """The node's DESCRIPTION (its tooltip, kept short) and the DETAILS that go with it on the pages."""
    return " ".join(t for t in (getattr(cls, "DESCRIPTION", ""), getattr(cls, "DETAILS", "")) if t)


def help_page(key, cls, display, names=None):
    """The page ComfyUI's node docs panel shows for this node (`names`: every node's display name)."""
    names = names or {}
    replaced_by = getattr(cls, "REPLACED_BY", None)  # a deprecated id: the page of the node it stands for
    when = (f"Only for workflows saved before the node was renamed: this is the old id of "
            f"{names.get(replaced_by, replaced_by)} (`{replaced_by}`) and works the same. New workflows use "
            f"`{replaced_by}`." if replaced_by else WHEN_TO_USE.get(key))
    if when is None:
        raise SystemExit(f"{key}: no 'when to use it' text in generators/make_docs.py WHEN_TO_USE")
    example = EXAMPLE.get(replaced_by or key)
    inside = INSIDE.get(key)
    where = (f" runs this node inside {names.get(inside, inside)} (`{inside}`)" if inside else
             f" shows this node under its new id `{replaced_by}`" if replaced_by else "")
    picture = [] if example is None else [
        "## In a workflow", "", f"The shipped workflow `{example}` (Workflow → Browse Templates){where}:", "",
        f"![{example.removesuffix('.json')}](workflows/{slug(example)}.png)", ""]
    details = [cls.DETAILS, ""] if getattr(cls, "DETAILS", "") else []
    return "\n".join([f"# {display}", "", getattr(cls, "DESCRIPTION", ""), "", *details, "## When to use it", "",
                      when, "", *picture, "## Inputs and outputs", "", io_tables(cls),
                      "", "More: the pack's README and docs/nodes.md.", ""])


def io_tables(cls):
    lines = ["| input | type | default | what it does |", "|---|---|---|---|"]
    for section in ("required", "optional"):
        for name, spec in cls.INPUT_TYPES().get(section, {}).items():
            options = spec[1] if len(spec) > 1 else {}
            shown = name if section == "required" else f"{name} (optional)"
            lines.append(f"| {shown} | {_cell(_type_name(spec))} | {_cell(_default(options))} | "
                         f"{_cell(options.get('tooltip', ''))} |")
    names = getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES
    tips = getattr(cls, "OUTPUT_TOOLTIPS", ("",) * len(names))
    lines += ["", "| output | type | what it is |", "|---|---|---|"]
    for name, kind, tip in zip(names, cls.RETURN_TYPES, tips, strict=False):
        lines.append(f"| {name} | {kind} | {_cell(tip)} |")
    return "\n".join(lines)


def help_pages(loaded):
    """{file name: text} of web/docs/, from load_pack()'s classes and display names."""
    classes, names = loaded
    return {f"{key}.md": help_page(key, cls, names.get(key, key), names) for key, cls in classes.items()}


def nodes_markdown(loaded):
    classes, names = loaded
    header = ["# Node reference", "", "Generated by `generators/make_docs.py` from the nodes' INPUT_TYPES.", ""]
    sections = [node_section(key, cls, names.get(key, key)) for key, cls in
                sorted(classes.items(), key=lambda kv: (kv[1].CATEGORY, kv[0]))]
    return "\n".join(header) + "\n\n".join(sections) + "\n"


def draw_workflow(path, out):
    """Boxes at the nodes' canvas positions, titled by type, with their links."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    graph = json.loads(Path(path).read_text())
    nodes = {n["id"]: n for n in graph["nodes"]}
    xs = [n["pos"][0] for n in nodes.values()] + [n["pos"][0] + n["size"][0] for n in nodes.values()]
    ys = [n["pos"][1] for n in nodes.values()] + [n["pos"][1] + n["size"][1] for n in nodes.values()]
    width, height = max(xs) - min(xs) + 80, max(ys) - min(ys) + 80
    fig = Figure(figsize=(max(6, width / 140), max(4, height / 140)), dpi=100)
    ax = fig.add_subplot()
    for link in graph["links"]:
        _, src, src_slot, dst, dst_slot, kind = link[:6]
        a, b = nodes[src], nodes[dst]
        start = (a["pos"][0] + a["size"][0], a["pos"][1] + 30 + 20 * src_slot)
        end = (b["pos"][0], b["pos"][1] + 30 + 20 * dst_slot)
        ax.annotate("", end, start, arrowprops={"arrowstyle": "->", "color": "#7a8aa0", "lw": 1})
    for node in nodes.values():
        x, y = node["pos"]
        w, h = node["size"]
        note = node["type"] in ("Note", "MarkdownNote")
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=2", fc="#fff8d8" if note else "#eef2f7",
                                    ec="#445566", lw=1))
        title = node.get("title") or node["type"]
        ax.text(x + 8, y + 18, title, fontsize=8, weight="bold", va="center")
        if note and node.get("widgets_values"):
            ax.text(x + 8, y + 36, _wrap(str(node["widgets_values"][0]), w), fontsize=6, va="top")
    ax.set_xlim(min(xs) - 40, max(xs) + 40)
    ax.set_ylim(max(ys) + 40, min(ys) - 40)  # canvas y grows downwards
    ax.axis("off")
    ax.set_title(Path(path).stem, fontsize=10)
    fig.tight_layout()
    fig.savefig(out)


def _wrap(text, width, lines=14):
    chars = max(20, int(width / 5.5))
    words, out, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > chars:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    out.append(line)
    return "\n".join(out[:lines]) + ("\n…" if len(out) > lines else "")


def main(argv=None):
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    loaded = load_pack()
    pages = {HELP / name: text for name, text in help_pages(loaded).items()}
    pages[DOCS / "nodes.md"] = nodes_markdown(loaded)
    if check:
        stale = [path for path, text in pages.items() if not path.is_file() or path.read_text() != text]
        stale += sorted(set(HELP.glob("*.md")) - set(pages))  # pages of nodes that are gone
        if stale:
            raise SystemExit(f"out of date: {', '.join(str(p.relative_to(ROOT)) for p in stale)}: "
                             "run ./run make-docs")
        print("docs/nodes.md and web/docs/ are up to date")
        return
    HELP.mkdir(parents=True, exist_ok=True)
    for old in HELP.glob("*.md"):
        old.unlink()
    for path, text in pages.items():
        path.write_text(text)
    (HELP / "workflows").mkdir(exist_ok=True)
    pictures = {HELP / "workflows" / f"{slug(name)}.png": ROOT / "workflows" / name for name in WORKFLOWS}
    for old in (HELP / "workflows").glob("*.png"):
        if old not in pictures:
            old.unlink()
    for out, path in pictures.items():
        draw_workflow(path, out)
        print("drew", path.name)


if __name__ == "__main__":
    main()
