"""The rack dashboard (dashboard/) in headless Chromium against a real broker with the plugin.

The broker serves the page itself: a websockets listener with `http_dir` pointing at a copy made by
dashboard/make-site.sh (the page plus the pinned MQTT.js bundle from npm), beside the plain TCP listener
the devices and the test's operator use. The dashboard connects as user `dashboard`, limited by an
acl_file to the README's dashboard ACL. tests/e2e/browser_driver.cjs drives Debian's chromium with npm's
playwright-core; this file talks to it one JSON line at a time, so the test reads top to bottom.

Needs chromium (Debian package `chromium`, or TWIN_CHROMIUM), node and npm; skipped with the reason
when one is missing. npm installs (pinned MQTT.js and playwright-core) go into TWIN_NPM_DIR (default:
<repo>/build/npm), once. Screenshots (desktop, phone, phone detail) are written to TWIN_ARTIFACTS
(default: the test's tmp dir) as dashboard-desktop.png, dashboard-detail-desktop.png (the 409 conflict),
dashboard-phone.png and dashboard-phone-detail.png; their paths are printed (pytest -s).
"""
import json
import os
import queue
import subprocess
import threading
import time

import pytest

import npm_packages
from broker import REPO, free_port
from clients import Device, Requester5, wait_until

CHROMIUM = os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT_VERSION = "1.65.1"
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser_driver.cjs")


def _missing():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return "no chromium at %s (apt-get install chromium, or set TWIN_CHROMIUM)" % CHROMIUM
    if npm_packages.node_missing():
        return npm_packages.node_missing()
    major = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"], capture_output=True,
                           text=True).stdout.strip()
    if not major.isdigit() or int(major) < 20:
        return "playwright-core needs Node.js >= 20, this is %s (Debian 12 ships 18)" % (major or "?")
    if os.environ.get("TWIN_BROKER_WRAPPER"):
        return ("the broker runs under a wrapper (valgrind): the dashboard test checks the page, "
                "which the plain and sanitizer runs cover")
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


# ----------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def www(tmp_path_factory):
    """The dashboard as a broker serves it: make-site.sh's output in a temp dir."""
    out = str(tmp_path_factory.mktemp("dashboard") / "www")
    env = dict(os.environ, TWIN_NPM_DIR=npm_packages.NPM_DIR)
    r = subprocess.run([os.path.join(REPO, "dashboard", "make-site.sh"), out], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "make-site.sh failed:\n%s\n%s" % (r.stdout, r.stderr)
    assert os.path.isfile(os.path.join(out, "mqtt.min.js"))
    return out


@pytest.fixture(scope="module")
def playwright_core():
    """playwright-core (pinned) installed under TWIN_NPM_DIR; its module directory."""
    return os.path.join(npm_packages.package("playwright-core", PLAYWRIGHT_VERSION), "node_modules",
                        "playwright-core")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    d = os.environ.get("TWIN_ARTIFACTS") or str(tmp_path_factory.mktemp("artifacts"))
    os.makedirs(d, exist_ok=True)
    return d


class Browser:
    """One node + chromium process (browser_driver.cjs); call() runs a Playwright page method."""

    def __init__(self, playwright_core, log_path):
        env = dict(os.environ, PLAYWRIGHT_CORE=playwright_core, CHROMIUM=CHROMIUM)
        self.err = open(log_path, "w")
        self.proc = subprocess.Popen(["node", DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, env=env, text=True, bufsize=1)
        self.answers = queue.Queue()
        self.seq = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.answers.put(json.loads(line))
        self.answers.put(None)

    def send(self, op, timeout=20.0, **kw):
        self.seq += 1
        self.proc.stdin.write(json.dumps(dict(kw, id=self.seq, op=op)) + "\n")
        self.proc.stdin.flush()
        try:
            a = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("browser driver: no answer to %s within %s s" % (op, timeout))
        assert a is not None, "browser driver exited (see its log %s)" % self.err.name
        assert a["id"] == self.seq, a
        if not a["ok"]:
            raise AssertionError("browser: %s %s failed: %s\npage log:\n%s"
                                 % (op, kw.get("method", ""), a["error"], "\n".join(self.logs())))
        return a.get("value")

    def call(self, method, *args, timeout=20.0):
        return self.send("call", method=method, args=list(args), timeout=timeout)

    def open(self, url, **context):
        return self.send("open", url=url, context=context, timeout=60.0)

    def logs(self):
        self.seq += 1
        self.proc.stdin.write(json.dumps({"id": self.seq, "op": "logs"}) + "\n")
        self.proc.stdin.flush()
        try:
            a = self.answers.get(timeout=5)
        except queue.Empty:
            return ["(no logs: driver did not answer)"]
        return a.get("value") if a and a.get("ok") else ["(no logs)"]

    # -- helpers over call()
    def wait(self, expr, arg=None, timeout_ms=10000, what=None):
        """Wait until the JS function `expr` (a string, called with arg) is truthy in the page."""
        try:
            return self.call("waitForFunction", expr, arg, {"timeout": timeout_ms},
                             timeout=timeout_ms / 1000 + 10)
        except AssertionError as e:
            raise AssertionError("page: timed out waiting for %s\n%s" % (what or expr, e))

    def js(self, expr, arg=None):
        return self.call("evaluate", expr, arg)

    def tile(self, twin_id):
        """What a tile shows: {level, stale, connected, cells: {field: [text, level]}}, or None."""
        return self.js("""(id) => {
            const t = document.querySelector(`.tile[data-id="${id}"]`);
            if (!t) return null;
            const cells = {};
            for (const c of t.querySelectorAll('.cell'))
                cells[c.dataset.field] = [c.querySelector('.cell-v').textContent,
                    c.className.replace(/.*lvl-/, ''), getComputedStyle(c).backgroundColor];
            return {level: t.dataset.level, stale: t.dataset.stale === 'true',
                    connected: t.dataset.connected, cells};
        }""", twin_id)

    def shown(self):
        return self.js("() => [...document.querySelectorAll('.tile')].map((t) => t.dataset.id)")

    def close(self):
        try:
            if self.proc.poll() is None:
                self.send("close", timeout=15)
        except Exception:
            pass
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.err.close()


@pytest.fixture
def browser(playwright_core, tmp_path):
    b = Browser(playwright_core, str(tmp_path / "browser-driver.log"))
    yield b
    b.close()


DASHBOARD_ACL = """\
# anonymous clients (the test's devices and operator): everything
topic readwrite #
topic readwrite $twin/#

# the README's dashboard user: search, read, history, update desired; watch events
user dashboard
topic write $twin/search
topic write $twin/+/get
topic write $twin/+/history
topic write $twin/+/update
topic read $twin/+/events
"""


def dashboard_broker(brokers, www, opts):
    """A broker with the plugin, a websockets listener serving `www`, and the dashboard ACL."""
    b = brokers(opts=opts, start=False)
    acl = os.path.join(b.tmp, "acl")
    with open(acl, "w") as f:
        f.write(DASHBOARD_ACL)
    b.ws_port = free_port()
    b.extra_conf = ["acl_file %s" % acl, "listener %d 127.0.0.1" % b.ws_port, "socket_domain ipv4",
                    "protocol websockets", "http_dir %s" % www]
    b.websockets = True   # Mosquitto's own websockets leak is suppressed for this broker only
    b.start()
    return b


# rack id -> (site, row, position, first telemetry)
RACKS = {
    "rack-a1": ("dc1", "A", 1, {"tempTop": 23.5, "tempBottom": 21.0, "humidityTop": 41, "humidityBottom": 45, "fanSpeed": 2}),
    "rack-a2": ("dc1", "A", 2, {"tempTop": 29.5, "tempBottom": 22.0, "humidityTop": 44, "humidityBottom": 48}),
    "rack-a3": ("dc1", "A", 3, {"tempTop": 24.0, "tempBottom": 21.5, "humidityTop": 55, "humidityBottom": 58}),
    "rack-b1": ("dc1", "B", 1, {"tempTop": 34.2, "tempBottom": 26.0, "humidityTop": 85, "humidityBottom": 70}),
    "rack-b2": ("dc1", "B", 2, {"tempTop": 22.0, "tempBottom": 20.5, "humidityTop": 38, "humidityBottom": 40}),
    "rack-c1": ("dc2", "C", 1, {"tempTop": 25.0, "tempBottom": 22.0, "humidityTop": 50, "humidityBottom": 52}),
}
STALE_RACK = "rack-c1"       # reports once, then never again
LEAVING_RACK = "rack-b2"     # its device disconnects during the test
STALE_S = 6

# computed backgrounds of the levels (style.css --ok-bg, --warn-bg, --crit-bg)
BG = {"ok": "rgb(223, 243, 230)", "warn": "rgb(253, 239, 200)", "crit": "rgb(251, 213, 213)"}


class Feeder:
    """The racks' devices: each rack's device connects with client id = twin id and re-sends its
    current readings every second (unchanged readings refresh lastSeen without an event)."""

    def __init__(self, port, racks):
        self.devices = {tid: Device(port, tid) for tid in racks}
        self.current = {tid: dict(RACKS[tid][3]) for tid in racks}
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def send(self, tid, values):
        with self.lock:
            self.current[tid].update(values)
            self.devices[tid].telemetry(values)

    def _run(self):
        while not self.stop_ev.wait(1.0):
            with self.lock:
                for tid, dev in self.devices.items():
                    if tid != STALE_RACK and dev.is_connected():
                        dev.telemetry(self.current[tid], qos=0)

    def close(self):
        self.stop_ev.set()
        self.thread.join(5)
        for d in self.devices.values():
            d.close()


def shot(browser, artifacts, name, full=True):
    path = os.path.join(artifacts, name)
    browser.call("screenshot", {"path": path, "fullPage": full})
    print("screenshot: %s" % path)
    return path


def no_horizontal_overflow(browser, what):
    w = browser.js("""() => ({doc: document.documentElement.scrollWidth, win: window.innerWidth,
        wide: [...document.querySelectorAll('body *')].filter((e) => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && (r.right > window.innerWidth + 1 || r.left < -1)
                && getComputedStyle(e).position !== 'fixed' && !e.closest('[hidden]');
        }).slice(0, 5).map((e) => e.tagName + '.' + e.className)})""")
    assert w["doc"] <= w["win"] and not w["wide"], "%s overflows horizontally: %r" % (what, w)


# ----------------------------------------------------------------- tests

def test_rack_dashboard(brokers, www, browser, artifacts):
    t_start = time.time()
    b = dashboard_broker(brokers, www, {"history_max": 20, "commit_interval_ms": 20})
    op = brokers.track(Requester5(b.port))
    feeder = Feeder(b.port, RACKS)
    brokers.track(feeder)
    for tid, (site, row, pos, values) in RACKS.items():
        feeder.send(tid, values)
        op.ok("$twin/%s/update" % tid, {"attributes": {"site": site, "row": row, "position": pos}})
    op.ok("$twin/rack-a1/update", {"desired": {"fanSpeed": 2}})
    op.ok("$twin/gw-1/update", {"reported": {"uptime": 5}})      # a twin that is no rack
    desired_seen = feeder.devices["rack-a1"]
    desired_seen.subscribe("devices/rack-a1/desired")
    feeder.thread.start()

    base = "http://127.0.0.1:%d/" % b.ws_port
    # pageSize=2: the list comes in three search pages, one cursor after another
    browser.open(base + "index.html?username=dashboard&staleSeconds=%d&refreshSeconds=2&pageSize=2" % STALE_S,
                 viewport={"width": 1280, "height": 860})
    browser.wait("() => document.body.dataset.ready === 'true'", what="the first search")
    browser.wait("(n) => document.querySelectorAll('.tile').length === n", len(RACKS),
                 what="%d tiles" % len(RACKS))
    assert sorted(browser.shown()) == sorted(RACKS), "gw-1 is no rack"
    searches = [l for l in b.log_text().splitlines()
                if "Received PUBLISH" in l and "'$twin/search'" in l]
    assert len(searches) >= 3, "the list was not read in pages of 2: %r" % searches

    # values and colours, straight from the search
    a2 = browser.tile("rack-a2")
    assert a2["cells"]["tempTop"][:2] == ["29.5°C", "warn"] and a2["level"] == "warn", a2
    assert a2["cells"]["tempTop"][2] == BG["warn"], a2
    assert a2["cells"]["humidityBottom"][:2] == ["48%", "ok"], a2
    b1 = browser.tile("rack-b1")
    assert b1["level"] == "crit" and b1["cells"]["tempTop"][1] == "crit", b1
    assert b1["cells"]["humidityTop"][:3] == ["85%", "crit", BG["crit"]], b1
    assert b1["cells"]["tempBottom"][1] == "ok", b1
    a1 = browser.tile("rack-a1")
    assert a1["level"] == "ok" and a1["cells"]["tempTop"] == ["23.5°C", "ok", BG["ok"]], a1
    assert not a1["stale"], a1

    # live: new telemetry changes the tile through $twin/+/events
    t0 = time.time()
    feeder.send("rack-a1", {"tempTop": 30.5})
    browser.wait("""() => { const c = document.querySelector('.tile[data-id="rack-a1"] .cell[data-field="tempTop"]');
                    return c && c.textContent.includes('30.5') && c.classList.contains('lvl-warn'); }""",
                 what="rack-a1 tempTop 30.5 warn")
    live_s = time.time() - t0
    assert browser.tile("rack-a1")["level"] == "warn"
    feeder.send("rack-a3", {"tempBottom": 33.0})
    browser.wait("""() => document.querySelector('.tile[data-id="rack-a3"]').dataset.level === 'crit'""",
                 what="rack-a3 turning critical")
    assert browser.tile("rack-a3")["cells"]["tempBottom"] == ["33°C", "crit", BG["crit"]]

    # a device that disconnects is marked (the next presence read, every refreshSeconds)
    feeder.devices[LEAVING_RACK].close()
    browser.wait("(id) => document.querySelector(`.tile[data-id=\"${id}\"]`).dataset.connected === 'false'",
                 LEAVING_RACK, timeout_ms=8000, what="%s disconnected" % LEAVING_RACK)
    assert browser.tile("rack-a1")["connected"] == "true"

    # filters: site, then row; the address bar keeps them
    browser.call("selectOption", "#site", "dc2")
    assert browser.shown() == ["rack-c1"]
    assert "site=dc2" in browser.js("() => location.search")
    browser.call("selectOption", "#site", "dc1")
    assert sorted(browser.shown()) == ["rack-a1", "rack-a2", "rack-a3", "rack-b1", "rack-b2"]
    browser.call("selectOption", "#row", "B")
    assert sorted(browser.shown()) == ["rack-b1", "rack-b2"]
    browser.call("selectOption", "#site", "")
    assert len(browser.shown()) == len(RACKS)

    # the rack that stopped reporting turns stale (lastSeen older than staleSeconds); the others not
    browser.wait("(id) => document.querySelector(`.tile[data-id=\"${id}\"]`).dataset.stale === 'true'",
                 STALE_RACK, timeout_ms=(STALE_S + 6) * 1000, what="%s stale" % STALE_RACK)
    assert not browser.tile("rack-a2")["stale"]
    desktop = shot(browser, artifacts, "dashboard-desktop.png")

    # detail: reported, desired, delta, history sparkline; edit desired
    browser.call("click", '.tile[data-id="rack-a1"]')
    browser.call("waitForSelector", "#desired-save")
    browser.wait("() => document.querySelectorAll('.history svg.spark polyline').length >= 2",
                 what="history sparklines")
    assert browser.js("() => document.querySelector('.live .big[data-field=\"tempTop\"] .big-v').textContent") == "30.5°C"
    desired_seen.drain()
    browser.call("fill", 'input[name="desired.fanSpeed"]', "4")
    browser.call("click", "#desired-save")
    browser.wait("() => document.querySelector('#desired-status').dataset.state === 'ok'",
                 what="save answered 200")
    assert op.twin("rack-a1")["desired"]["fanSpeed"] == 4
    m = desired_seen.get(lambda m: m.topic == "devices/rack-a1/desired" and m.payload, desc="desired message")
    assert json.loads(m.payload)["delta"] == {"fanSpeed": 4}
    browser.wait("() => document.querySelector('.delta-body').textContent.includes('fanSpeed')",
                 what="fanSpeed in the delta")

    # someone else changes desired while the editor is open: saving is refused with 409, shown as such
    op.ok("$twin/rack-a1/update", {"desired": {"fanSpeed": 5}})
    browser.wait("() => window.twinDashboard.store.twins.get('rack-a1').desired.fanSpeed === 5",
                 what="the other operator's change reaching the page")
    feeder.send("rack-a1", {"tempBottom": 21.5})
    browser.call("fill", 'input[name="desired.fanSpeed"]', "3")
    browser.call("click", "#desired-save")
    browser.wait("() => document.querySelector('#desired-status').dataset.state === 'conflict'",
                 what="a 409 conflict")
    text = browser.js("() => document.querySelector('#desired-status').textContent")
    assert "409" in text and "NOT saved" in text and '"fanSpeed":5' in text, text
    assert op.twin("rack-a1")["desired"]["fanSpeed"] == 5, "a conflicting save must change nothing"
    detail_shot = shot(browser, artifacts, "dashboard-detail-desktop.png", full=False)
    browser.call("click", "#desired-status .reload")
    assert browser.js("() => document.querySelector('input[name=\"desired.fanSpeed\"]').value") == "5"
    # from the current values, with telemetry bumping the version meanwhile, the save goes through
    feeder.send("rack-a1", {"tempBottom": 22.0})
    browser.wait("() => window.twinDashboard.store.twins.get('rack-a1').reported.tempBottom === 22",
                 what="telemetry reaching the page")
    browser.call("fill", 'input[name="desired.fanSpeed"]', "3")
    browser.call("click", "#desired-save")
    browser.wait("() => document.querySelector('#desired-status').dataset.state === 'ok'",
                 what="save after telemetry answered 200")
    assert op.twin("rack-a1")["desired"]["fanSpeed"] == 3

    # phone-sized screen: no horizontal overflow, grid and detail
    browser.open(base + "index.html?username=dashboard&staleSeconds=%d" % STALE_S,
                 viewport={"width": 390, "height": 844}, isMobile=True, hasTouch=True,
                 deviceScaleFactor=2)
    browser.wait("(n) => document.querySelectorAll('.tile').length === n", len(RACKS), what="phone tiles")
    no_horizontal_overflow(browser, "phone grid")
    phone = shot(browser, artifacts, "dashboard-phone.png")
    browser.call("click", '.tile[data-id="rack-a1"]')
    browser.call("waitForSelector", "#desired-save")
    browser.wait("() => document.querySelector('.history svg.spark polyline')", what="history drawn")
    no_horizontal_overflow(browser, "phone detail")
    assert browser.js("() => document.querySelector('.detail-panel').getBoundingClientRect().width") <= 390
    phone_detail = shot(browser, artifacts, "dashboard-phone-detail.png", full=False)

    errors = [l for l in browser.logs() if l.startswith(("pageerror", "console.error", "requestfailed"))]
    assert not errors, errors
    feeder.close()
    print("dashboard test: %.1f s, live update in %.2f s; screenshots %s, %s, %s, %s"
          % (time.time() - t_start, live_s, desktop, detail_shot, phone, phone_detail))


def test_detail_without_history_and_reconnect(brokers, www, browser):
    """history_max 0 (the default): the detail says so instead of drawing, and the rest works; after
    a broker restart the page reconnects and follows events again."""
    b = dashboard_broker(brokers, www, {})
    dev = brokers.track(Device(b.port, "rack-h1"))
    dev.telemetry({"tempTop": 22.5, "tempBottom": 20.0, "humidityTop": 40, "humidityBottom": 42})
    browser.open("http://127.0.0.1:%d/?username=dashboard" % b.ws_port)
    browser.wait("() => document.querySelectorAll('.tile').length === 1", what="the tile")
    browser.call("click", '.tile[data-id="rack-h1"]')
    browser.wait("() => (document.querySelector('.history-note') || {}).textContent?.includes('off on this broker')",
                 what="the no-history note")
    assert browser.js("() => document.querySelectorAll('.history svg').length") == 0
    dev.telemetry({"tempTop": 23.0})
    brokers.track(Requester5(b.port)).twin("rack-h1")  # applied before the next: two changes, two events
    dev.telemetry({"tempTop": 23.5})
    # readings that arrive while the detail is open are drawn all the same
    browser.wait("() => document.querySelectorAll('.history svg.spark polyline').length >= 1",
                 what="live sparkline")

    # the broker restarts: the page reconnects by itself, reads the list again and follows events
    loads = int(browser.js("() => document.body.dataset.loads"))
    dev.close()
    b.restart()
    browser.wait("() => document.querySelector('#conn').dataset.state === 'offline'", what="offline")
    dev = brokers.track(Device(b.port, "rack-h1"))
    browser.wait("() => document.querySelector('#conn').dataset.state === 'connected'",
                 timeout_ms=15000, what="reconnected")
    # a list read after the reconnection has finished (it starts once the events are subscribed again)
    browser.wait("(n) => Number(document.body.dataset.loads) > n", loads, what="the list read again")
    dev.telemetry({"tempTop": 33.5})
    browser.wait("""() => document.querySelector('.tile[data-id="rack-h1"]').dataset.level === 'crit'""",
                 what="an event after the reconnection")
    errors = [l for l in browser.logs() if l.startswith(("pageerror", "console.error"))]
    assert not errors, errors
