"""The upstream ComfyUI web UI in headless Chromium, driven by selenium: what a user sees when they open
the pack's workflows from the templates dialog. Used by tests/host/test_browser.py and
tools/screenshot_workflows.py.

Chromium and its driver come from Debian's packages (chromium, chromium-driver; ./run test installs them
with apt-get when they are missing), selenium from PyPI (requirements-test.txt). `problem()` says why the
browser cannot run here. The frontend is the host's (comfyui_frontend_package): only upstream serves it.

What the page is asked, and where the frontend keeps it (comfyui_frontend_package 1.27):
- the templates dialog: `[data-testid=template-workflows-content]`, opened by the side bar's
  `.templates-tab-button` (and by itself for a new user); categories are the list box's options, a custom
  node pack's under "Custom Nodes" titled with its custom_nodes folder name; cards are
  `[data-testid=template-workflow-<file stem>]`, thumbnail `<stem>.jpg` beside the workflow;
- open dialogs: PrimeVue `.p-dialog` with `aria-labelledby` = the dialog's key; the missing-nodes dialog
  is `global-load-workflow-warning`;
- the graph: `window.app.graph` (nodes with `getBounding()` = pos/size with the title bar; groups with
  `_bounding`), each node's badges (`node.badges`: "[DEPR]" for a deprecated node) and its node
  definition (`node.constructor.nodeData`, with `deprecated`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

CHROMIUM = os.environ.get("STYLE_ALIGNED_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("STYLE_ALIGNED_CHROMEDRIVER", "/usr/bin/chromedriver")
# The closed network floods Chromium with refused connections unless its background traffic is off.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")
MISSING_NODES_DIALOG = "global-load-workflow-warning"
TEMPLATES = "[data-testid=template-workflows-content]"
TITLE_HEIGHT = 30  # LiteGraph.NODE_TITLE_HEIGHT
INSTALL_HINT = "apt-get install chromium chromium-driver (./run test does this as root)"

# What the page reports about the loaded graph (one round trip).
GRAPH_FACTS = """
const app = window.app, graph = app.graph, LiteGraph = window.LiteGraph || app.canvas.constructor.LiteGraph;
app.canvas.setDirty(true, true);
app.canvas.draw(true, true);  // boundingRect is measured when a frame is drawn
const badgeText = (node) => (node.badges || []).map((b) => (typeof b === "function" ? b() : b))
    .map((b) => (b && b.text) || "").join(" ");
return {
  nodes: graph._nodes.map((n) => ({
    id: n.id, type: n.type, title: n.title,
    rect: Array.from(n.getBounding()),  // pos/size with the title bar
    area: Array.from(n.getBounding(null, true)),  // what the node draws: its shadow and slot dots too
    badges: badgeText(n),
    collapsed: !!(n.flags && n.flags.collapsed),
    preview: !!(n.imgs && n.imgs.length),  // an image preview fills whatever room the node has
    min: Array.from(n.computeSize()),  // the size the frontend needs for the node's widgets
    deprecated: !!(n.constructor.nodeData && n.constructor.nodeData.deprecated),
    registered: n.type in LiteGraph.registered_node_types,
    widgets: Object.fromEntries((n.widgets || []).map((w) => [w.name,
        typeof w.value === "object" ? null : w.value])),
  })),
  groups: (graph._groups || []).map((g) => ({title: g.title, rect: Array.from(g._bounding || g.bounding)})),
};
"""

# The box around every node and group, in graph units.
GRAPH_BOUNDS = """
const graph = window.app.graph, items = [...graph._nodes, ...(graph._groups || [])];
if (!items.length) return null;
let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
for (const item of items) {
  const r = item.getBounding ? item.getBounding() : item._bounding;
  x0 = Math.min(x0, r[0]); y0 = Math.min(y0, r[1]);
  x1 = Math.max(x1, r[0] + r[2]); y1 = Math.max(y1, r[1] + r[3]);
}
const c = window.app.canvas.canvas;
return {bounds: [x0, y0, x1 - x0, y1 - y0], canvas: [c.clientWidth, c.clientHeight]};
"""
FIT_BOUNDS = """
const app = window.app;
app.canvas.ds.fitToBounds(arguments[0], {zoom: arguments[1]});
app.canvas.setDirty(true, true);
app.canvas.draw(true, true);
return app.canvas.ds.scale;
"""


def problem() -> str | None:
    """None when headless Chromium can be driven here, else why not (with how to install it)."""
    for path, what in ((CHROMIUM, "Chromium"), (CHROMEDRIVER, "ChromeDriver")):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"no {what} at {path}: {INSTALL_HINT}"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (requirements-test.txt pins it)"
    return None


class Browser:
    """`with Browser(url) as b:` headless Chromium (fresh profile) on the ComfyUI page at `url`."""

    def __init__(self, url: str, width: int = 1600, height: int = 1000, timeout: float = 60.0):
        self.url, self.width, self.height, self.timeout = url, width, height, timeout
        self.driver = None
        self.profile = None

    def __enter__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        reason = problem()
        if reason:
            raise RuntimeError(reason)
        self.profile = tempfile.mkdtemp(prefix="style-aligned-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_argument(f"--window-size={self.width},{self.height}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.driver is not None:
            try:
                self.driver.quit()
            finally:
                self.driver = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    # ------------------------------------------------------------ waiting

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait_for(self, what: str, check, timeout: float | None = None, poll: float = 0.2):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page did not show {what} within {timeout or self.timeout:.0f} s")
            time.sleep(poll)

    def visible(self, css: str) -> list:
        return [e for e in self.driver.find_elements("css selector", css) if e.is_displayed()]

    # ------------------------------------------------------------ the UI

    def open_ui(self, first_run_templates_timeout: float = 20.0) -> bool:
        """Load the page until the graph and the side bar are up. True when the templates dialog opened by
        itself (what a new user sees first)."""
        self.driver.get(self.url)
        self.wait_for("the graph canvas and the side bar", lambda: self.js(
            "return !!(window.app && window.app.graph && window.app.canvas"
            " && document.querySelector('.templates-tab-button'))"))
        try:
            self.wait_for("the templates dialog", lambda: self.visible(TEMPLATES), first_run_templates_timeout)
            return True
        except TimeoutError:
            return False

    def open_dialogs(self) -> list[str]:
        """The keys of the dialogs on screen."""
        return [e.get_attribute("aria-labelledby") or "?" for e in self.visible(".p-dialog")]

    def open_templates(self):
        if not self.visible(TEMPLATES):
            self.visible(".templates-tab-button")[0].click()
        self.wait_for("the templates dialog", lambda: self.visible(TEMPLATES))

    def select_category(self, title: str):
        """Click the category `title` (a custom node pack's folder name) in the templates dialog."""
        def option():
            for element in self.visible(f"{TEMPLATES} [role=option]"):
                if element.text.strip() == title:
                    return element
            return None

        element = self.wait_for(f"the category {title!r} in the templates dialog", option)
        self.js("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()
        self.wait_for(f"the cards of {title!r}", lambda: self.visible(f"{TEMPLATES} [data-testid^=template-workflow-]"))

    def categories(self) -> list[str]:
        return [e.text.strip() for e in self.visible(f"{TEMPLATES} [role=option]")]

    def cards(self, thumbnail_wait: float = 2.0, wait_budget: float = 8.0) -> list[dict]:
        """The cards shown, in order: name (file stem), title, description, whether the title is cut off and
        whether the thumbnail shows. Thumbnails load lazily, only while in view: each card is scrolled into
        view and given `thumbnail_wait` s (`wait_budget` s in all for the ones that never load)."""
        facts = []
        deadline = time.monotonic() + wait_budget
        for card in self.visible(f"{TEMPLATES} [data-testid^=template-workflow-]"):
            self.js("arguments[0].scrollIntoView({block: 'center'})", card)
            wait = max(0.0, min(thumbnail_wait, deadline - time.monotonic()))
            try:
                self.wait_for("a thumbnail", lambda card=card: self.js(
                    "const i = arguments[0].querySelector('img'); return !!i && i.complete && i.naturalWidth > 0",
                    card), wait or 0.01, poll=0.1)
            except TimeoutError:
                pass
            facts.append(self.js("""
                const card = arguments[0], img = card.querySelector('img');
                const cut = (card, h3) => {  // the text runs past the card's edge or past the clamped lines
                  const range = document.createRange(); range.selectNodeContents(h3);
                  const text = range.getBoundingClientRect(), box = card.getBoundingClientRect();
                  return text.right > box.right - 4 || h3.scrollHeight > h3.clientHeight + 1;
                };
                const h3 = card.querySelector('h3'), p = card.querySelector('p');
                return {name: card.dataset.testid.replace('template-workflow-', ''),
                        title: h3 ? h3.textContent.trim() : '', description: p ? p.textContent.trim() : '',
                        title_cut: !!h3 && cut(card, h3),
                        thumbnail: !!img && img.complete && img.naturalWidth > 0};""", card))
        return facts

    def scroll_cards_to_top(self):
        cards = self.visible(f"{TEMPLATES} [data-testid^=template-workflow-]")
        if cards:  # the first scrollable box around the cards goes back to its top
            self.js("""for (let e = arguments[0].parentElement; e; e = e.parentElement) {
                         const scrolls = /(auto|scroll)/.test(getComputedStyle(e).overflowY);
                         if (scrolls && e.scrollHeight > e.clientHeight + 1) {
                           e.scrollTop = 0; break;
                         }
                       }""", cards[0])
            time.sleep(1.0)  # the thumbnails in view load again

    def load_template(self, name: str, node_count: int, settle: float = 1.0) -> float:
        """Click the card `name` in the open templates dialog and wait until its graph (node_count nodes) is
        loaded and the dialog has closed. Returns the seconds it took."""
        started = time.monotonic()
        card = self.wait_for(f"the card {name!r}", lambda: [c for c in self.visible(
            f"{TEMPLATES} [data-testid^=template-workflow-]")
            if c.get_attribute("data-testid") == f"template-workflow-{name}"])[0]
        self.js("arguments[0].scrollIntoView({block: 'center'})", card)
        card.click()
        self.wait_for(f"the workflow {name!r} on the canvas ({node_count} nodes)", lambda: not self.visible(TEMPLATES)
                      and self.js("return window.app.graph._nodes.length") == node_count)
        time.sleep(settle)  # dialogs the load opens (missing nodes, missing models) come a moment later
        return time.monotonic() - started

    def graph(self) -> dict:
        return self.js(GRAPH_FACTS)

    def resize(self, width: int, height: int):
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": int(width), "height": int(height), "deviceScaleFactor": 1, "mobile": False})
        time.sleep(0.5)  # the canvas follows the window

    def screenshot_graph(self, path: Path, zoom: float = 0.92, min_scale: float = 0.75,
                         max_size: tuple[int, int] = (3200, 2400)) -> Path:
        """A screenshot of the whole graph (every node and group fitted into the canvas). A graph too big to
        be drawn at `min_scale` in this window gets a larger window for the picture (at most max_size): below
        about 0.6 the frontend draws nodes as boxes without their text."""
        facts = self.js(GRAPH_BOUNDS)
        if facts is None:
            return self.screenshot(path)
        (bx, by, bw, bh), (cw, ch) = facts["bounds"], facts["canvas"]
        scale = min(zoom * cw / max(bw, 300), zoom * ch / max(bh, 300))
        resized = scale < min_scale
        if resized:  # the canvas needs bounds * min_scale / zoom; the rest of the window stays as it is
            width = min(max_size[0], self.width - cw + bw * min_scale / zoom)
            height = min(max_size[1], self.height - ch + bh * min_scale / zoom)
            self.resize(max(width, self.width), max(height, self.height))
        try:
            self.js(FIT_BOUNDS, [bx, by, bw, bh], zoom)
            time.sleep(0.3)
            return self.screenshot(path)
        finally:
            if resized:
                self.resize(self.width, self.height)

    def set_setting(self, key: str, value):
        """A user setting, through the frontend's extension API (as the settings dialog would)."""
        self.js("return window.app.extensionManager.setting.set(arguments[0], arguments[1])", key, value)

    def screenshot(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def close_dialogs(self):
        """Close every dialog with its close button (Escape as a fallback)."""
        from selenium.webdriver.common.keys import Keys

        for _ in range(5):
            buttons = self.visible(".p-dialog .p-dialog-close-button, .p-dialog [aria-label=Close]")
            if not self.visible(".p-dialog"):
                return
            if buttons:
                buttons[0].click()
            else:
                self.driver.find_element("css selector", "body").send_keys(Keys.ESCAPE)
            time.sleep(0.3)

    def errors(self) -> list[str]:
        """The page's JavaScript errors since the last call."""
        try:
            entries = self.driver.get_log("browser")
        except Exception:  # noqa: BLE001 (a driver without logs)
            return []
        return [e["message"] for e in entries if e.get("level") == "SEVERE" and e.get("source") == "javascript"]


# ---------------------------------------------------------------- checks on GRAPH_FACTS


def _intersection(a, b) -> tuple[float, float]:
    return (min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]), min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))


def overlaps(nodes: list[dict], key: str = "area") -> list[str]:
    """Every pair of nodes whose drawn areas overlap (the frontend's render area: the box with its title bar,
    shadow and slot dots, about 4 px out on the top and left and 6 px on the right and bottom; so two nodes
    closer than about 10 px overlap). key="rect": the boxes alone."""
    found = []
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            dx, dy = _intersection(a[key], b[key])
            if dx > 0 and dy > 0:
                found.append(f"#{a['id']} {a['title']!r} and #{b['id']} {b['title']!r} overlap by "
                             f"{dx:.0f} x {dy:.0f} px")
    return found


def too_small(nodes: list[dict]) -> list[str]:
    """Nodes smaller than the frontend needs for their widgets (they would draw past their box); not the ones
    showing an image, whose preview shrinks to the room left."""
    return [f"#{n['id']} {n['title']!r} is {n['rect'][2]:.0f} x {n['rect'][3]:.0f} px (title bar included), the "
            f"frontend needs {n['min'][0]:.0f} x {n['min'][1]:.0f} px plus the title bar"
            for n in nodes if not (n["collapsed"] or n["preview"] or n["type"] in ("LoadImage", "LoadImageMask"))
            and (n["rect"][2] + 0.5 < n["min"][0] or n["rect"][3] - TITLE_HEIGHT + 0.5 < n["min"][1])]


def straddling(nodes: list[dict], groups: list[dict]) -> list[str]:
    """Nodes that are neither inside nor outside a group (crossing its border)."""
    found = []
    for group in groups:
        g = group["rect"]
        for node in nodes:
            r = node["rect"]
            dx, dy = _intersection(r, g)
            inside = r[0] >= g[0] and r[1] >= g[1] and r[0] + r[2] <= g[0] + g[2] and r[1] + r[3] <= g[1] + g[3]
            if dx > 0 and dy > 0 and not inside:
                found.append(f"#{node['id']} {node['title']!r} crosses the border of the group {group['title']!r}")
    return found


# The host's loaders of input files: node type -> the widget naming the file in the input folder.
FILE_LOADERS = {"LoadImage": "image", "LoadImageMask": "image", "LoadAudio": "audio", "LoadVideo": "file"}


def input_files(nodes: list[dict]) -> list[tuple[str, str]]:
    """(node, file name) for every loader of an input file in the graph."""
    return [(f"#{n['id']} {n['title']!r}", n["widgets"].get(FILE_LOADERS[n["type"]]))
            for n in nodes if n["type"] in FILE_LOADERS]
