"""What a new user sees: the upstream web UI in headless Chromium (Debian's chromium + chromium-driver,
driven by selenium; see harness.browser) against a fresh headless host on 127.0.0.1 whose custom_nodes/
links the pack (and tests/harness/tiny_pack), with nothing in its input folder but what the pack puts there.

The templates dialog must list the pack under "Extensions" and, there, every workflow the pack ships (every
*.json in the folders the host serves as templates), each with a thumbnail and a title that fits its card;
each workflow, opened from its card, must load with no missing node (the error overlay of frontend 1.45, the
missing-nodes dialog of older ones), no deprecated node ([DEPR] badge), no two nodes overlapping, no node
smaller than its widgets or crossing a group's border, and every input file its loaders name present in
the host's input folder (and none reported missing by the frontend). Missing models are expected (the host has
none) and only printed. A screenshot of the dialog and of every loaded workflow goes to
output/screenshots/browser-test/ (STYLE_ALIGNED_SCREENSHOTS moves it); the folder and the wall time are
printed. Every wait is on the page's state (harness.browser), so a loaded machine only makes it slower.
Without Chromium the tests are skipped with the reason, except in CI (CI=true), where they fail.
"""

import json
import os
import time
import urllib.error
import urllib.parse
from pathlib import Path

import pytest
from harness import browser, pack
from harness import server as hs

ROOT = pack.ROOT
# the folders the host serves as a pack's templates (app/custom_node_manager.py), in its order
TEMPLATE_FOLDERS = ("example_workflows", "example", "examples", "workflow", "workflows")
WORKFLOWS = {p.stem: p for folder in TEMPLATE_FOLDERS for p in sorted((ROOT / folder).glob("*.json"))}
SHOTS = Path(os.environ.get("STYLE_ALIGNED_SCREENSHOTS") or ROOT / "output" / "screenshots" / "browser-test")

pytestmark = pytest.mark.needs("the main leg")


def say(request, text):
    """A line on the terminal also when pytest captures output (the wall time, the screenshot folder)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n[browser test] {text}", flush=True)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, request):
    reason = browser.problem()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    started = time.monotonic()
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    cwd = hs.prepare_host(tmp_path_factory.mktemp("browser-host"), {hs.PACK_FOLDER: ROOT,
                                                                     "style-aligned-test-pack": hs.TINY_PACK})
    server = hs.HostServer(cwd)
    request.addfinalizer(server.stop)
    server.start()
    session = browser.Browser(server.url)
    session.timeout_shots = SHOTS
    request.addfinalizer(session.__exit__)
    session.__enter__()
    first_run = session.open_ui()
    say(request, f"host and browser up in {time.monotonic() - started:.1f} s; screenshots in {SHOTS}")
    request.addfinalizer(lambda: say(request, f"wall time {time.monotonic() - started:.1f} s (host start, "
                                              f"browser, {len(WORKFLOWS)} workflows); screenshots in {SHOTS}"))
    return {"server": server, "browser": session, "first_run_templates": first_run, "cwd": cwd}


def open_our_templates(ui):
    session = ui["browser"]
    session.open_templates()
    session.select_category(hs.PACK_FOLDER, browser.EXTENSIONS)
    return session


def test_templates_dialog_lists_every_workflow_with_a_thumbnail_and_a_title(ui):
    assert WORKFLOWS, f"no workflows in {', '.join(TEMPLATE_FOLDERS)} under {ROOT}"
    session = ui["browser"]
    categories = None
    if ui["first_run_templates"]:  # a new user's first page: the dialog opened by itself
        categories = session.categories()
    open_our_templates(ui)
    categories = categories or session.categories()
    ours = {"group": browser.EXTENSIONS, "label": hs.PACK_FOLDER}
    assert any({k: c[k] for k in ours} == ours for c in categories), \
        f"no category {hs.PACK_FOLDER!r} under {browser.EXTENSIONS!r} in the templates dialog: {categories}"
    cards = session.cards()
    session.scroll_cards_to_top()
    shot = session.screenshot(SHOTS / "templates_dialog.png")
    print(f"\n{shot}: " + "; ".join(f"{c['title']!r} (thumbnail {c['thumbnail']})" for c in cards))
    listed = [c["name"] for c in cards]
    problems = []
    if sorted(listed) != sorted(WORKFLOWS):
        problems.append(f"the dialog lists {sorted(listed)}, the pack ships {sorted(WORKFLOWS)}")
    for card in cards:
        url = f"/api/workflow_templates/{hs.PACK_FOLDER}/{urllib.parse.quote(card['name'])}.jpg"
        if not card["thumbnail"]:
            try:
                status = f"{len(ui['server'].get_bytes(url))} bytes"
            except urllib.error.HTTPError as exc:
                status = f"HTTP {exc.code}"
            problems.append(f"{card['name']}: no thumbnail on its card ({url}: {status})")
        if card["title_cut"]:
            problems.append(f"{card['name']}: its title {card['title']!r} is cut off on the card")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflow_opens_cleanly_from_its_card(ui, name):
    session = open_our_templates(ui)
    session.errors()  # only this load's
    expected = len(json.loads(WORKFLOWS[name].read_text())["nodes"])
    seconds = session.load_template(name, expected)
    report = session.load_report()
    session.dismiss_errors()  # the picture shows the graph; what the overlay said is printed
    graph = session.graph()
    nodes = graph["nodes"]
    shot = session.screenshot_graph(SHOTS / f"{name}.png")
    print(f"\n{name}: loaded in {seconds:.1f} s, {len(nodes)} nodes, {len(graph['groups'])} groups; {shot}"
          + (f"; dialogs {report['dialogs']}" if report["dialogs"] else "")
          + (f"; error overlay {report['overlay']}" if report["overlay"] else "")
          + (f"; models missing (expected: the host has none) {report['missing_models']}"
             if report["missing_models"] else "")
          + "".join(f"\n  page error: {e}" for e in session.errors()))

    problems = []
    if browser.MISSING_NODES_DIALOG in report["dialogs"]:
        problems.append(f"the missing-nodes dialog opened ({report['dialogs']})")
    if report["missing_nodes"]:
        problems.append(f"the frontend reports missing nodes {report['missing_nodes']} (error overlay "
                        f"{report['overlay']})")
    elif report["missing_nodes"] is None and any("node" in line.lower() for line in report["overlay"]):
        problems.append(f"the error overlay reports nodes: {report['overlay']}")
    problems += [f"#{n['id']} {n['title']!r}: {n['type']} is not a node type of this host"
                 for n in nodes if not n["registered"]]
    problems += [f"#{n['id']} {n['title']!r}: {n['type']} is deprecated (badge {n['badges']!r})"
                 for n in nodes if n["deprecated"] or "[DEPR]" in n["badges"]]
    problems += browser.overlaps(nodes)
    problems += browser.too_small(nodes)
    problems += browser.straddling(nodes, graph["groups"])
    if report["missing_media"]:
        problems.append(f"the frontend reports input files missing: {report['missing_media']}")
    for node, filename in browser.input_files(nodes):
        if not filename:
            problems.append(f"{node}: names no input file")
            continue
        subfolder, _, base = filename.rpartition("/")
        query = urllib.parse.urlencode({"filename": base, "subfolder": subfolder, "type": "input"})
        try:
            ui["server"].get_bytes(f"/view?{query}")
        except urllib.error.HTTPError as exc:
            problems.append(f"{node}: {filename} is not in the host's input folder (/view: HTTP {exc.code})")
    assert not problems, f"{name} ({shot}):\n" + "\n".join(problems)
