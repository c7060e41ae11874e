"""The upstream ComfyUI web UI in headless Chromium, driven by selenium: what a user sees when they open
the pack's workflows from the templates dialog. Used by tests/host/test_browser.py and
generators/screenshot_workflows.py.

Chromium and its driver come from Debian's packages (chromium, chromium-driver; ./run test installs them
with apt-get when they are missing), selenium from PyPI (requirements-test.txt). `problem()` says why the
browser cannot run here. The frontend is the host's (comfyui_frontend_package): only upstream serves it.

What the page is asked, and where the frontend keeps it (comfyui_frontend_package 1.45, ComfyUI v0.28):
- the templates dialog: the PrimeVue dialog `global-workflow-template-selector`, opened by the side bar's
  `.templates-tab-button` (and by itself for a new user: the server's `Comfy.TutorialCompleted` is unset);
  its cards are in `[data-testid=template-workflows-content]`, each `[data-testid=template-workflow-<file
  stem>]` with an `h3` title (one clamped line) and a lazily loaded thumbnail (`<stem>.jpg` beside the
  workflow) under `[data-testid=thumbnail-content]`: a PrimeVue skeleton until the image loads, a fallback
  picture beside it when the image fails;
- its categories: the dialog's `nav`, items `[role=button]` in groups titled by an `h3`; a custom node
  pack's templates are the item named by its custom_nodes folder in the collapsible group "Extensions";
  the chosen category's name heads the cards;
- a workflow opened from a card: the dialog closes, then `app.loadGraphData` runs (the missing node, model
  and media checks included); the missing nodes go to the Pinia store `missingNodesError`, the missing
  models and input files to `missingModel` / `missingMedia`, and missing nodes open the error overlay
  `[data-testid=error-overlay]` (frontend 1.27 opened the dialog `global-load-workflow-warning` instead);
- the graph: `window.app.graph` (nodes with `getBounding()` = pos/size with the title bar; groups with
  `_bounding`), each node's badges (`node.badges`: "[DEPR]" for a deprecated node) and its node
  definition (`node.constructor.nodeData`, with `deprecated`).

Every wait is on the page's state (an element shown, a load finished, a frame drawn), never on time: the
timeouts only bound how long a broken page is waited for. Elements are found again for every look, in one
script where possible, so a re-rendered page cannot leave a stale reference behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("STYLE_ALIGNED_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("STYLE_ALIGNED_CHROMEDRIVER", "/usr/bin/chromedriver")
# The closed network floods Chromium with refused connections unless its background traffic is off.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")
TEMPLATES_DIALOG = "global-workflow-template-selector"
MISSING_NODES_DIALOG = "global-load-workflow-warning"  # frontend 1.27; 1.45 reports them in ERROR_OVERLAY
TEMPLATES = "[data-testid=template-workflows-content]"
CARD_ID = "template-workflow-"  # + the workflow's file stem
CARDS = f"{TEMPLATES} [data-testid^={CARD_ID}]"
ERROR_OVERLAY = "[data-testid=error-overlay]"
EXTENSIONS = "Extensions"  # the group of the custom node packs' categories
TITLE_HEIGHT = 30  # LiteGraph.NODE_TITLE_HEIGHT
INSTALL_HINT = "apt-get install chromium chromium-driver (./run test does this as root)"

# Helpers the scripts below start with: whether an element is shown; the templates dialog's cards
# container, dialog and nav (null when the dialog is not open); a card by its file stem.
HELPERS = """
const TEMPLATES = '@TEMPLATES@', CARD_ID = '@CARD_ID@';
const shown = (e) => !!e && (e.checkVisibility ? e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})
                                               : e.getClientRects().length > 0);
const content = () => [...document.querySelectorAll(TEMPLATES)].find(shown) || null;
const dialog = () => { const c = content(); return c && (c.closest('[role=dialog]') || document.body); };
const nav = () => { const d = dialog(); return d && d.querySelector('nav'); };
const cards = () => {
  const c = content();
  return c ? [...c.querySelectorAll(`[data-testid^="${CARD_ID}"]`)].filter(shown) : [];
};
const card = (name) => cards().find((c) => c.dataset.testid === CARD_ID + name) || null;
const stem = (c) => c.dataset.testid.slice(CARD_ID.length);
""".replace("@TEMPLATES@", TEMPLATES).replace("@CARD_ID@", CARD_ID)

# The categories in the dialog's nav: [{group, label, selected}], group = the title of the item's group.
CATEGORIES = HELPERS + """
const n = nav();
if (!n) return null;
return [...n.querySelectorAll('[role=button]')].filter(shown).map((item) => {
  let group = null;
  for (let p = item.parentElement; p && p !== n && group === null; p = p.parentElement) {
    const title = p.querySelector(':scope > h3, :scope > div > h3');
    if (title) group = title.textContent.trim();
  }
  const label = (item.querySelector('span') || item).textContent.trim();
  return {group, label, selected: /surface-selected/.test(item.className)};
});
"""
# The nav item `label` (scrolled into view): {element, selected, marked (whether any item is marked selected:
# a frontend that marks it)}, or null; opens its group `group` when that is collapsed.
CATEGORY_ITEM = HELPERS + """
const [label, group] = arguments, n = nav();
if (!n) return null;
const items = [...n.querySelectorAll('[role=button]')].filter(shown);
const selected = (e) => /surface-selected/.test(e.className);
const item = items.find((e) => (e.querySelector('span') || e).textContent.trim() === label);
if (item) {
  item.scrollIntoView({block: 'center'});
  return {element: item, selected: selected(item), marked: items.some(selected)};
}
const title = [...n.querySelectorAll('h3')].find((h) => h.textContent.trim().toLowerCase() === group.toLowerCase());
if (title && title.parentElement.querySelector('.pi-chevron-right')) title.parentElement.click();  // collapsed
return null;
"""
# Whether the category `label` is the one shown: its name heads the cards and there are cards.
CATEGORY_SHOWN = HELPERS + """
const d = dialog(), c = content();
if (!d || !cards().length) return false;
const walker = document.createTreeWalker(d, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const e = walker.currentNode.parentElement;
  if (walker.currentNode.textContent.trim() === arguments[0] && !e.closest('nav') && !c.contains(e) && shown(e))
    return true;
}
return false;
"""
# The card `name` scrolled into view with its facts once its thumbnail has settled (loaded or failed), else
# null (still loading, or no such card). thumbnail: the image shows; title_cut: the title runs past the card's
# edge or past its clamped line(s).
CARD_FACTS = HELPERS + """
const c = card(arguments[0]);
if (!c) return null;
if (arguments[1]) c.scrollIntoView({block: 'center'});
const box = c.querySelector('[data-testid=thumbnail-content]') || c;
const first = box.querySelector('[data-pc-name=skeleton], .p-skeleton, img');  // in document order
const root = first ? first.parentElement : box;  // LazyImage: [skeleton], [its image], [a div with the fallback]
const own = [...root.children].filter((e) => e.tagName === 'IMG');
const fallback = [...root.children].some((e) => e.tagName !== 'IMG' && e.querySelector('img'));
const skeleton = !!box.querySelector('[data-pc-name=skeleton], .p-skeleton');
const loaded = !fallback && !skeleton && own.length > 0 && own.every((i) => i.complete && i.naturalWidth > 0);
if (!loaded && !fallback) return null;
const h3 = c.querySelector('h3'), p = c.querySelector('p');
let cut = false;
if (h3) {
  const range = document.createRange(); range.selectNodeContents(h3);
  const text = range.getBoundingClientRect(), edge = c.getBoundingClientRect();
  cut = text.right > edge.right - 4 || h3.scrollHeight > h3.clientHeight + 1 || h3.scrollWidth > h3.clientWidth + 1;
}
return {name: stem(c), title: h3 ? h3.textContent.trim() : '',
        description: p ? p.textContent.trim() : '', title_cut: cut, thumbnail: loaded};
"""
# The cards' file stems, in the order shown.
CARD_NAMES = HELPERS + "return cards().map(stem);"
# Scrolls the cards' box back to its top; returns the stems of the cards then in view.
CARDS_TO_TOP = HELPERS + """
const all = cards();
if (!all.length) return [];
for (let e = all[0].parentElement; e; e = e.parentElement) {
  if (/(auto|scroll)/.test(getComputedStyle(e).overflowY) && e.scrollHeight > e.clientHeight + 1) {
    e.scrollTop = 0; break;
  }
}
const inView = (e) => { const r = e.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; };
return all.filter(inView).map(stem);
"""
# The card `name` scrolled into view, to be clicked.
CARD_ELEMENT = HELPERS + "const c = card(arguments[0]); if (c) c.scrollIntoView({block: 'center'}); return c;"

# app.loadGraphData wrapped once so the page tells when each load has finished: the frontend opens a workflow
# from its card by calling it and runs its checks (missing nodes, models, media) before it returns.
WATCH_LOADS = """
const app = window.app;
if (!app.__styleAlignedLoads) {
  const load = app.loadGraphData;
  app.__styleAlignedLoads = [];
  app.loadGraphData = function (...args) {
    const entry = {name: String((args[3] && args[3].filename) || args[3] || ''), done: false, error: null};
    app.__styleAlignedLoads.push(entry);
    const result = load.apply(this, args);
    Promise.resolve(result).then(() => { entry.done = true; }, (e) => { entry.done = true; entry.error = String(e); });
    return result;
  };
}
return app.__styleAlignedLoads.length;
"""
LOADS_SINCE = "return (window.app.__styleAlignedLoads || []).slice(arguments[0]);"
# What the last load left for the user: missing nodes, models and input files as the frontend's stores hold
# them (null where the store is not there: another frontend), the error overlay's lines, the dialogs.
LOAD_REPORT = HELPERS + """
const root = document.getElementById('vue-app') || [...document.body.children].find((e) => e.__vue_app__);
const pinia = root && root.__vue_app__ && root.__vue_app__.config.globalProperties.$pinia;
const store = (id) => (pinia && pinia._s && pinia._s.get(id)) || null;
const nodes = store('missingNodesError'), models = store('missingModel'), media = store('missingMedia');
const overlay = [...document.querySelectorAll('[data-testid=error-overlay]')].find(shown);
return {
  missing_nodes: nodes ? ((nodes.missingNodesError && nodes.missingNodesError.nodeTypes) || [])
      .map((t) => (typeof t === 'string' ? t : t.type)) : null,
  missing_models: models ? (models.missingModelCandidates || []).filter((m) => m.isMissing !== false)
      .map((m) => `${m.directory || '?'}/${m.name}`) : null,
  missing_media: media ? (media.missingMediaCandidates || []).map((m) => m.name || m.filename || JSON.stringify(m))
      : null,
  overlay: overlay ? [...overlay.querySelectorAll('[data-testid=error-overlay-messages] li')]
      .map((e) => e.textContent.trim()) : [],
  dialogs: [...document.querySelectorAll('.p-dialog')].filter(shown)
      .map((e) => e.getAttribute('aria-labelledby') || '?'),
};
"""
# Resolves once the page has drawn `arguments[0]` more frames (Vue's updates land before the next frame).
FRAMES = """
const done = arguments[arguments.length - 1];
let left = arguments[0];
const step = () => (--left <= 0 ? done(true) : requestAnimationFrame(step));
requestAnimationFrame(step);
"""
# The canvas has followed the window (width x height): the frontend resizes it on the window's resize event.
CANVAS_FOLLOWED = """
const c = window.app.canvas.canvas, ratio = window.devicePixelRatio || 1;
const near = (a, b) => Math.abs(a - Math.round(b * ratio)) <= 1;
return innerWidth === arguments[0] && innerHeight === arguments[1] && c.clientWidth > 0
    && near(c.width, c.clientWidth) && near(c.height, c.clientHeight);
"""

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

# The box around every node and group, in graph units, and the part of the canvas the page leaves free
# (left, top, width, height in CSS px): in frontend 1.45 the canvas fills the window, under the tab bar, the
# menu and Run bars at its top, the side bar at its left and the zoom controls at its bottom.
GRAPH_BOUNDS = HELPERS + """
const graph = window.app.graph, items = [...graph._nodes, ...(graph._groups || [])];
if (!items.length) return null;
let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
for (const item of items) {
  const r = item.getBounding ? item.getBounding() : item._bounding;
  x0 = Math.min(x0, r[0]); y0 = Math.min(y0, r[1]);
  x1 = Math.max(x1, r[0] + r[2]); y1 = Math.max(y1, r[1] + r[3]);
}
const box = window.app.canvas.canvas.getBoundingClientRect();
let [left, top, right, bottom] = [box.left, box.top, box.right, box.bottom];
const rect = (id) => {
  const e = document.querySelector(`[data-testid="${id}"]`);
  return e && shown(e) ? e.getBoundingClientRect() : null;
};
for (const id of ['topbar-workflow-tabs', 'subgraph-breadcrumb', 'queue-button', 'action-bar-buttons']) {
  const r = rect(id);
  if (r && r.top < box.top + box.height / 4) top = Math.max(top, r.bottom);
}
const side = rect('side-toolbar');
if (side && side.right < box.left + box.width / 4) left = Math.max(left, side.right);
const zoom = rect('zoom-controls-button');
if (zoom && zoom.top > box.top + box.height * 3 / 4) bottom = Math.min(bottom, zoom.top);
return {bounds: [x0, y0, x1 - x0, y1 - y0],
        free: [left - box.left, top - box.top, right - left, bottom - top]};
"""
# Fits the box arguments[0] (graph units) into the canvas area arguments[1] (CSS px) at arguments[2] of its size.
FIT_BOUNDS = """
const app = window.app, ds = app.canvas.ds, [bounds, free, zoom] = arguments;
const scale = Math.min(free[2] * zoom / bounds[2], free[3] * zoom / bounds[3]);
ds.scale = scale;  // a canvas point is (graph point + offset) * scale
ds.offset = [(free[0] + (free[2] - bounds[2] * scale) / 2) / scale - bounds[0],
             (free[1] + (free[3] - bounds[3] * scale) / 2) / scale - bounds[1]];
app.canvas.setDirty(true, true);
app.canvas.draw(true, true);
return scale;
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


def _transient() -> tuple[type[Exception], ...]:
    """What a look at a page being re-rendered may raise: looked again at the next poll."""
    from selenium.common import exceptions


    return (exceptions.StaleElementReferenceException, exceptions.ElementClickInterceptedException,
            exceptions.ElementNotInteractableException)


class Browser:
    """`with Browser(url) as b:` headless Chromium (fresh profile) on the ComfyUI page at `url`."""

    def __init__(self, url: str, width: int = 1600, height: int = 1000, timeout: float = 60.0):
        self.url, self.width, self.height, self.timeout = url, width, height, timeout
        self.driver = None
        self.profile = None
        self.timeout_shots = None  # a folder: a screenshot of the page goes there when a wait times out
        self._timeouts = 0

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
            self.driver.set_script_timeout(self.timeout)
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

    def wait_for(self, what: str, check, timeout: float | None = None, poll: float = 0.1):
        """check()'s first truthy value, asked every `poll` s; a check that meets an element the page has just
        re-rendered (stale, covered) counts as not yet. TimeoutError after `timeout` s (self.timeout)."""
        transient = _transient()
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            try:
                value = check()
            except transient:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page did not show {what} within {limit:.0f} s{self._timeout_shot()}")
            time.sleep(poll)

    def _timeout_shot(self) -> str:
        """A screenshot of the page that did not show what was waited for, in self.timeout_shots (if set)."""
        if not self.timeout_shots:
            return ""
        try:
            self._timeouts += 1
            return f" (the page then: {self.screenshot(Path(self.timeout_shots) / f'timeout-{self._timeouts}.png')})"
        except Exception as exc:  # noqa: BLE001 (the page may be gone)
            return f" (no screenshot: {exc})"

    def frames(self, count: int = 2):
        """Until the page has drawn `count` more frames: what the last change made is then on screen."""
        self.driver.execute_async_script(FRAMES, count)

    def visible(self, css: str) -> list:
        """The elements `css` finds that are shown (one look; they may go stale at the page's next render)."""
        return self.js(HELPERS + "return [...document.querySelectorAll(arguments[0])].filter(shown);", css)

    def click(self, what: str, find, timeout: float | None = None):
        """Click the element find() returns (None: not there yet), finding it again until a click lands."""
        def attempt():
            element = find()
            if element is None:
                return False
            element.click()
            return True

        self.wait_for(what, attempt, timeout)

    # ------------------------------------------------------------ the UI

    def new_user(self) -> bool:
        """Whether the host's user has never finished the frontend's first run (the frontend then opens the
        templates dialog by itself)."""
        try:
            with urllib.request.urlopen(f"{self.url}/settings/Comfy.TutorialCompleted", timeout=30) as response:
                return json.loads(response.read() or b"null") is not True
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def open_ui(self) -> bool:
        """Load the page until the graph and the side bar are up. True when the templates dialog opened by
        itself (what a new user sees first), which is waited for when the host's user is new."""
        first_run = self.new_user()
        self.driver.get(self.url)
        self.wait_for("the graph canvas and the side bar", lambda: self.js(
            "return !!(window.app && window.app.graph && window.app.canvas"
            " && document.querySelector('.templates-tab-button'))"))
        if first_run:
            self.wait_for("the templates dialog a new user gets", lambda: self.visible(TEMPLATES))
        return first_run

    def open_dialogs(self) -> list[str]:
        """The keys of the dialogs on screen."""
        return self.js(HELPERS + "return [...document.querySelectorAll('.p-dialog')].filter(shown)"
                                 ".map((e) => e.getAttribute('aria-labelledby') || '?');")

    def open_templates(self):
        """Open the templates dialog (with the side bar's button) unless it is open."""
        if not self.visible(TEMPLATES):
            self.click("the side bar's templates button", lambda: (self.visible(".templates-tab-button") or [None])[0])
        self.wait_for("the templates dialog", lambda: self.visible(TEMPLATES))

    def select_category(self, label: str, group: str = EXTENSIONS):
        """Show the templates of the category `label` (a custom node pack's folder name, in the group `group`).
        Clicked again while the dialog marks another category as selected (a click it did not take)."""
        clicked = False

        def shown():
            nonlocal clicked
            if self.js(CATEGORY_SHOWN, label):
                return True
            item = self.js(CATEGORY_ITEM, label, group)
            if item and (not clicked or (item["marked"] and not item["selected"])):
                item["element"].click()
                clicked = True
            return False

        self.wait_for(f"the cards of the category {label!r} ({group}) in the templates dialog", shown)

    def categories(self) -> list[dict]:
        """The categories in the open templates dialog: {group, label, selected}; group = the title of the
        group they are listed in (None for the untitled ones)."""
        return self.js(CATEGORIES) or []

    def card_names(self) -> list[str]:
        return self.js(CARD_NAMES)

    def cards(self, thumbnail_timeout: float = 30.0) -> list[dict]:
        """The cards shown, in order: name (file stem), title, description, whether the title is cut off and
        whether the thumbnail shows. Thumbnails load lazily, only while near the view: each card is scrolled
        into view and waited for until its thumbnail has loaded or failed (`thumbnail_timeout` s at most for
        the first that does neither, then no more waiting for the others: a frontend that marks neither).
        The dialog renders a long list a page at a time as it is scrolled: the cards that come with the last
        one's scrolling are looked at too."""
        facts, seen = [], set()
        timeout = thumbnail_timeout
        while True:
            names = [name for name in self.card_names() if name not in seen]
            if not names:
                return facts
            for name in names:
                seen.add(name)
                try:
                    facts.append(self.wait_for(f"the thumbnail of {name!r} loaded or failed",
                                               lambda name=name: self.js(CARD_FACTS, name, True), timeout))
                except TimeoutError:
                    timeout = 0.0
                    fact = self.js(CARD_FACTS.replace("if (!loaded && !fallback) return null;", ""), name, True)
                    facts.append(fact or {"name": name, "title": "", "description": "", "title_cut": False,
                                          "thumbnail": False})
            self.frames()

    def scroll_cards_to_top(self):
        """Scroll the cards back to the top and wait until the thumbnails then in view have loaded (or failed)."""
        for name in self.js(CARDS_TO_TOP):
            self.wait_for(f"the thumbnail of {name!r}", lambda name=name: self.js(CARD_FACTS, name, False))
        self.frames()

    def load_template(self, name: str, node_count: int) -> float:
        """Click the card `name` in the open templates dialog and wait until the frontend has loaded its graph
        (node_count nodes) and run its checks, and the dialog has closed. Returns the seconds it took."""
        started = time.monotonic()
        before = self.js(WATCH_LOADS)

        def loaded():
            loads = self.js(LOADS_SINCE, before)
            if not loads or not all(load["done"] for load in loads):
                return False
            errors = [load["error"] for load in loads if load["error"]]
            if errors:
                raise RuntimeError(f"the frontend failed to load {name!r}: {'; '.join(errors)}")
            return not self.visible(TEMPLATES) and self.js("return window.app.graph._nodes.length") == node_count

        self.click(f"the card {name!r}", lambda: self.js(CARD_ELEMENT, name))
        self.wait_for(f"the workflow {name!r} loaded ({node_count} nodes on the canvas, the dialog closed)", loaded)
        self.frames()  # what the load opened (error overlay, dialogs) is rendered
        return time.monotonic() - started

    def load_report(self) -> dict:
        """What the last load left: missing_nodes, missing_models, missing_media (lists; None where this
        frontend has no such store), overlay (the error overlay's lines), dialogs (the keys of those open)."""
        return self.js(LOAD_REPORT)

    def dismiss_errors(self):
        """Dismiss the error overlay (as its Dismiss button does) and wait until it has gone."""
        if self.visible(ERROR_OVERLAY):
            self.click("the error overlay's Dismiss button",
                       lambda: (self.visible("[data-testid=error-overlay-dismiss]") or [None])[0])
            self.wait_for("the error overlay gone", lambda: not self.visible(ERROR_OVERLAY))

    def graph(self) -> dict:
        return self.js(GRAPH_FACTS)

    def resize(self, width: int, height: int):
        """The window's size; returns once the canvas has followed it."""
        width, height = int(width), int(height)
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.wait_for(f"the canvas at the window's size {width} x {height}",
                      lambda: self.js(CANVAS_FOLLOWED, width, height))
        self.frames()

    def screenshot_graph(self, path: Path, zoom: float = 0.92, min_scale: float = 0.75,
                         max_size: tuple[int, int] = (3200, 2400)) -> Path:
        """A screenshot of the whole graph (every node and group fitted into the part of the canvas the page's
        bars leave free). A graph too big to be drawn at `min_scale` in this window gets a larger window for
        the picture (at most max_size): below about 0.6 the frontend draws nodes as boxes without their text."""
        facts = self.js(GRAPH_BOUNDS)
        if facts is None:
            return self.screenshot(path)
        bounds, (_, _, fw, fh) = facts["bounds"], facts["free"]
        scale = min(zoom * fw / max(bounds[2], 300), zoom * fh / max(bounds[3], 300))
        resized = scale < min_scale
        if resized:  # the free area needs bounds * min_scale / zoom; the rest of the window stays as it is
            width = min(max_size[0], self.width - fw + bounds[2] * min_scale / zoom)
            height = min(max_size[1], self.height - fh + bounds[3] * min_scale / zoom)
            self.resize(max(width, self.width), max(height, self.height))
        try:
            self.js(FIT_BOUNDS, bounds, self.js(GRAPH_BOUNDS)["free"], zoom)
            self.frames()  # the DOM widgets (text boxes) follow the canvas on its next frames
            return self.screenshot(path)
        finally:
            if resized:
                self.resize(self.width, self.height)

    def set_setting(self, key: str, value):
        """A user setting, through the frontend's extension API (as the settings dialog would)."""
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "Promise.resolve(window.app.extensionManager.setting.set(arguments[0], arguments[1]))"
            ".then(() => done(true), (e) => done(String(e)));", key, value)
        if result is not True:
            raise RuntimeError(f"the frontend did not take the setting {key} = {value!r}: {result}")

    def screenshot(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def close_dialogs(self):
        """Close every dialog with its close button (Escape as a fallback), waiting for each to go, and
        dismiss the error overlay."""
        from selenium.webdriver.common.keys import Keys

        for _ in range(5):
            dialogs = self.open_dialogs()
            if not dialogs:
                break
            buttons = self.visible(".p-dialog .p-dialog-close-button, .p-dialog [aria-label=Close], "
                                   ".p-dialog [aria-label='Close dialog']")
            try:
                if buttons:
                    buttons[0].click()
                else:
                    self.driver.find_element("css selector", "body").send_keys(Keys.ESCAPE)
            except _transient():
                continue
            count = len(dialogs)
            self.wait_for("a dialog closed", lambda count=count: len(self.open_dialogs()) < count)
        self.dismiss_errors()

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
