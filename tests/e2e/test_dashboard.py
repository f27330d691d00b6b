"""The rack dashboard (dashboard/) in headless Chromium against a real broker with the plugin.

The broker serves the page itself: a websockets listener with `http_dir` pointing at a copy made by
dashboard/make-site.sh (the page plus the pinned MQTT.js bundle from npm), beside the plain TCP listener
the devices and the test's operator use. The dashboard connects as user `dashboard`, limited by an
acl_file to the README's dashboard ACL. dashboard_page.py drives the browser; the tests read top to
bottom:

- test_rack_dashboard: six racks with live telemetry: the attention list (what the page opens on), the
  floor map, the tiles, levels and colours, a disconnect, a stale rack, the filters, the keyboard, wall
  mode, the detail, a desired edit that reaches the device, a real 409, a phone-sized screen.
- test_detail_without_history_and_reconnect: history off, and a broker restart.
- test_load_times_at_1500_and_10000_racks: issue 18's targets, measured and printed: the demo floor of
  examples/rack-floor (1 500 racks) loaded, checked against the twins on the floor map and the attention
  list, live updates at 1 500 racks every 10 s, a reconnection; then 10 000 racks.
- test_alarms_and_model_driven_editor: twin models and alarms: the attention list and the alarms view,
  acknowledging, units from the model, the desired editor from the model's schema.

Needs chromium (Debian package `chromium`, or TWIN_CHROMIUM), node and npm; skipped with the reason
when one is missing. npm installs (pinned MQTT.js and playwright-core) go into TWIN_NPM_DIR (default:
<repo>/build/npm), once. Screenshots are written to TWIN_ARTIFACTS (default: the test's tmp dir) and
their paths printed (pytest -s): each view of the six racks (dashboard-<view>.png) and of the 1 500-rack
floor (dashboard-floor-<view>.png), the 409 conflict, the phone. (The README's come from the demo broker
with examples/rack-floor running, which also shows stale racks.)
"""
import json
import os
import resource
import sys
import threading
import time

import pytest

from broker import REPO
from clients import Client, Device, Requester5, wait_until
from dashboard_page import (Browser, artifacts, browser, dashboard_broker, missing,  # noqa: F401
                            no_horizontal_overflow, playwright_core, shot, www)

sys.path.insert(0, os.path.join(REPO, "examples", "rack-floor"))
import rack_floor  # noqa: E402

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")

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


def focused(browser):
    return browser.js("() => document.activeElement.dataset.id || document.activeElement.id")


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
    browser.open(base + "index.html?username=dashboard&staleSeconds=%d&refreshSeconds=2&pageSize=2&view=racks&cycleSeconds=2"
                 % STALE_S, viewport={"width": 1280, "height": 860})
    browser.wait("() => document.body.dataset.ready === 'true'", what="the first search")
    browser.wait("(n) => document.querySelectorAll('.tile').length === n", len(RACKS),
                 what="%d tiles" % len(RACKS))
    assert sorted(browser.shown()) == sorted(RACKS), "gw-1 is no rack"
    searches = [line for line in b.log_text().splitlines()
                if "Received PUBLISH" in line and "'$twin/search'" in line]
    assert len(searches) >= 3, "the list was not read in pages of 2: %r" % searches
    # connected from the search pages themselves: no get per rack
    gets = [line for line in b.log_text().splitlines() if "Received PUBLISH" in line and "/get'" in line]
    assert not gets, "the page read racks one by one: %r" % gets[:3]
    assert browser.tile("rack-a1")["connected"] == "true"
    summary = browser.js("() => document.querySelector('#summary').textContent")
    assert summary.startswith("6 racks · 1 critical · 1 warning"), summary

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

    # filters: site, then row, then state; the address bar keeps them
    browser.call("selectOption", "#site", "dc2")
    assert browser.shown() == ["rack-c1"]
    assert "site=dc2" in browser.js("() => location.search")
    browser.call("selectOption", "#site", "dc1")
    assert sorted(browser.shown()) == ["rack-a1", "rack-a2", "rack-a3", "rack-b1", "rack-b2"]
    browser.call("selectOption", "#row", "B")
    assert sorted(browser.shown()) == ["rack-b1", "rack-b2"]
    browser.call("selectOption", "#site", "")
    assert len(browser.shown()) == len(RACKS)
    browser.call("selectOption", "#state", "critical")
    assert sorted(browser.shown()) == ["rack-a3", "rack-b1"]
    assert "state=critical" in browser.js("() => location.search")
    browser.call("selectOption", "#state", "")

    # the rack that stopped reporting turns stale (lastSeen older than staleSeconds); the others not
    browser.wait("(id) => document.querySelector(`.tile[data-id=\"${id}\"]`).dataset.stale === 'true'",
                 STALE_RACK, timeout_ms=(STALE_S + 6) * 1000, what="%s stale" % STALE_RACK)
    assert not browser.tile("rack-a2")["stale"]
    shot(browser, artifacts, "dashboard-racks.png")

    # the attention list: critical (newest first: a3 turned critical while the page watched, b1 was
    # when it loaded), warning (a1 likewise before a2), stale, disconnected; the ok racks are not there
    browser.view("attention")
    expected = [("rack-a3", "critical"), ("rack-b1", "critical"), ("rack-a1", "warning"),
                ("rack-a2", "warning"), ("rack-c1", "stale"), ("rack-b2", "disconnected")]
    browser.wait("(n) => document.querySelectorAll('.att-row').length === n", len(expected),
                 what="the attention list")
    assert [r[:2] for r in browser.attention()] == expected
    heads = browser.js("() => [...document.querySelectorAll('.att-head')].map((h) => h.textContent)")
    assert heads == ["Critical (2)", "Warning (2)", "Stale (1)", "Disconnected (1)"], heads
    assert "tempBottom 33°C" in browser.js("() => document.querySelector('.att-row[data-id=\"rack-a3\"]').textContent")
    shot(browser, artifacts, "dashboard-attention.png")

    # keyboard: arrows move along the list, Enter opens the rack, Esc closes it, 2 is the floor map
    browser.call("focus", "#view-attention")
    browser.call("keyboard.press", "ArrowDown")
    assert focused(browser) == "rack-a3"
    browser.call("keyboard.press", "ArrowDown")
    assert focused(browser) == "rack-b1"
    browser.call("keyboard.press", "Enter")
    browser.wait("() => document.querySelector('#detail-title').textContent === 'rack-b1'", what="detail by Enter")
    browser.call("keyboard.press", "Escape")
    browser.wait("() => document.querySelector('#detail').hidden", what="detail closed by Esc")
    browser.call("keyboard.press", "2")
    browser.wait("() => !document.querySelector('#view-map').hidden", what="the floor map by key 2")

    # the floor map: a plan per site, row lines, a column per position; top and bottom halves
    cells = browser.map_cells()
    assert set(cells) == set(RACKS)
    assert {(c["site"], c["row"], c["col"]) for c in cells.values()} == \
        {(s, r, str(p)) for s, r, p, _ in RACKS.values()}
    assert (cells["rack-a3"]["top"], cells["rack-a3"]["bottom"]) == ("ok", "crit"), cells["rack-a3"]
    assert (cells["rack-b1"]["top"], cells["rack-b1"]["bottom"]) == ("crit", "warn"), cells["rack-b1"]
    assert (cells["rack-a1"]["top"], cells["rack-a1"]["bottom"]) == ("warn", "ok"), cells["rack-a1"]
    assert "stale" in cells["rack-c1"]["classes"] and "offline" in cells["rack-b2"]["classes"]
    browser.call("focus", ".fm-cell[data-id='rack-a1']")
    browser.call("keyboard.press", "ArrowRight")
    assert focused(browser) == "rack-a2"
    browser.call("keyboard.press", "ArrowDown")
    assert focused(browser) == "rack-b2", focused(browser)
    shot(browser, artifacts, "dashboard-map.png")
    browser.call("click", ".fm-cell[data-id='rack-a1']")
    browser.wait("() => document.querySelector('#detail-title').textContent === 'rack-a1'", what="detail by click")
    browser.call("click", ".detail-close")

    # wall screen: large type, no controls, the sites one after another
    browser.call("keyboard.press", "w")
    browser.wait("() => document.body.classList.contains('wall')", what="wall mode")
    first = browser.js("() => document.querySelector('.fm-site.on-wall').dataset.site")
    assert browser.js("() => document.querySelector('.tabs').offsetParent === null"), "controls shown on the wall"
    assert browser.js("() => !document.querySelector('#view-attention').hidden")
    shot(browser, artifacts, "dashboard-wall.png", full=False)
    browser.wait("(s) => document.querySelector('.fm-site.on-wall').dataset.site !== s", first,
                 timeout_ms=8000, what="the wall moving to the next site")
    browser.call("keyboard.press", "Escape")
    browser.wait("() => !document.body.classList.contains('wall')", what="wall mode left")
    browser.view("racks")

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
    browser.wait("() => (window.twinDashboard.store.twins.get('rack-a1').delta || {}).fanSpeed === 4",
                 what="the tile's delta read again")

    # someone else changes desired while the editor is open: saving is refused with 409, shown as such
    op.ok("$twin/rack-a1/update", {"desired": {"fanSpeed": 5}})
    browser.wait("() => (window.twinDashboard.store.twins.get('rack-a1').delta || {}).fanSpeed === 5",
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

    # phone-sized screen: no horizontal overflow in the attention list, the map, the tiles, the detail
    browser.open(base + "index.html?username=dashboard&staleSeconds=%d" % STALE_S,
                 viewport={"width": 390, "height": 844}, isMobile=True, hasTouch=True,
                 deviceScaleFactor=2)
    browser.wait("() => document.querySelectorAll('.att-row').length >= 4", what="phone attention list")
    no_horizontal_overflow(browser, "phone attention list")
    phone = shot(browser, artifacts, "dashboard-phone.png")
    browser.view("map")
    no_horizontal_overflow(browser, "phone floor map")
    shot(browser, artifacts, "dashboard-phone-map.png")
    browser.view("racks")
    browser.wait("(n) => document.querySelectorAll('.tile').length === n", len(RACKS), what="phone tiles")
    no_horizontal_overflow(browser, "phone tiles")
    browser.call("click", '.tile[data-id="rack-a1"]')
    browser.call("waitForSelector", "#desired-save")
    browser.wait("() => document.querySelector('.history svg.spark polyline')", what="history drawn")
    no_horizontal_overflow(browser, "phone detail")
    assert browser.js("() => document.querySelector('.detail-panel').getBoundingClientRect().width") <= 390
    phone_detail = shot(browser, artifacts, "dashboard-phone-detail.png", full=False)

    errors = [line for line in browser.logs() if line.startswith(("pageerror", "console.error", "requestfailed"))]
    assert not errors, errors
    feeder.close()
    print("dashboard test: %.1f s, live update in %.2f s; screenshots %s, %s, %s"
          % (time.time() - t_start, live_s, detail_shot, phone, phone_detail))


def test_detail_without_history_and_reconnect(brokers, www, browser):
    """history_max 0 (the default): the detail says so instead of drawing, and the rest works; after
    a broker restart the page reconnects and follows events again."""
    b = dashboard_broker(brokers, www, {})
    dev = brokers.track(Device(b.port, "rack-h1"))
    dev.telemetry({"tempTop": 22.5, "tempBottom": 20.0, "humidityTop": 40, "humidityBottom": 42})
    browser.open("http://127.0.0.1:%d/?username=dashboard&view=racks" % b.ws_port)
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
    errors = [line for line in browser.logs() if line.startswith(("pageerror", "console.error"))]
    assert not errors, errors


# ----------------------------------------------------------------- issue 18's targets

# Bounds, in seconds. A load is timed from the moment the page is opened (navigation start; the best of
# three openings), and a reconnection's from the moment the page is connected again: "first" is the
# first racks drawn, "complete" every rack drawn, with presence (search answers carry `connected`). The
# live delay is from a reading's arrival at the broker (its event's ts) to the frame that drew it.
FIRST_S, COMPLETE_S, COMPLETE_10K_S, LAG_P99_S = 1.0, 1.5, 3.0, 1.0
# The targets are for the floor as it is: racks reporting every 10 s while the page opens, loads again
# and follows them; and for the page opened on an idle broker (the racks made, none reporting), where
# Mosquitto serves its http_dir files and the websockets handshake only as fast as the plugin keeps its
# loop turning (plugin/ws_listener.c; without it, 0.6 s for the page's files and 0.15 s to connect).
# The load times are of a browser and a broker sharing the machine's cores with a busy floor: when other
# work keeps more than this many processes runnable per core (the 1-minute load average at the end;
# the test itself brings about 3), a missed load time is reported as an expected failure that says so
# (the live delay stays a hard bound).
OVERLOADED_PER_CORE = 3
LIVE_S = 6              # seconds of live readings drawn in the racks view, at 150 readings/s
DEMO_OPTS = {"history_max": 10}     # plugin/demo.conf.in


def need_descriptors(n):
    """1 500 devices are 1 500 connections here and in the broker (a child: it inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            pytest.skip("needs %d open files (ulimit -n), the hard limit is %d" % (n, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def wait_load(browser, index, timeout_s):
    """The index-th load of the page once complete (ms since the page was opened). The page itself checks
    at every animation frame (no round trips through the driver while it loads) and keeps what the summary
    said meanwhile: during the page's first load, only that it is loading (a reload keeps the counts of
    the last one until it is done)."""
    browser.wait("""(i) => { const s = window.__summaries || (window.__summaries = new Set());
                     const d = window.twinDashboard;
                     if (d && d.timings[i] && d.timings[i].complete !== null)
                         return true;
                     s.add(document.querySelector('#summary').textContent);
                     return false; }""", index,
                 timeout_ms=timeout_s * 1000, what="load %d of the page" % index)
    load, seen, error = browser.js("(i) => [window.twinDashboard.timings[i], [...window.__summaries], "
                                   "document.querySelector('#error').textContent]", index)
    assert not error, "load %d of the page failed: %s (%r)" % (index, error, load)
    partial = [s for s in seen if index == 0 and not s.startswith("Loading racks")]
    assert not partial, "the summary said something before every rack was in: %r" % partial
    return load


def open_and_load(browser, url, tries=3):
    """The fastest of `tries` openings of the page (the machine's other work adds noise to one); each
    load must complete."""
    best = None
    for _ in range(tries):
        browser.open(url, viewport={"width": 1280, "height": 900})
        load = wait_load(browser, 0, timeout_s=60)
        if best is None or load["complete"] < best["complete"]:
            best = load
    return best


def expected_states(op, now_ms, cfg=None):
    """What each rack's state is, from its twin (read over TCP), by the dashboard's default thresholds:
    {id: (category, top level, bottom level)}."""
    cfg = cfg or {"tempWarn": 27, "tempCrit": 32, "humidityLow": 20, "humidityHigh": 60,
                  "humidityCritLow": 10, "humidityCritHigh": 80, "staleSeconds": 300}
    rank = {"none": 0, "ok": 1, "warn": 2, "crit": 3}

    def level(field, v):
        if not isinstance(v, (int, float)):
            return "none"
        if field.startswith("temp"):
            return "crit" if v > cfg["tempCrit"] else "warn" if v > cfg["tempWarn"] else "ok"
        if v < cfg["humidityCritLow"] or v > cfg["humidityCritHigh"]:
            return "crit"
        return "warn" if v < cfg["humidityLow"] or v > cfg["humidityHigh"] else "ok"

    out, cursor = {}, None
    while True:
        req = {"limit": 200, "fields": ["reported", "lastSeen", "connected"]}
        if cursor:
            req["cursor"] = cursor
        page = op.ok("$twin/search", req)
        for t in page["items"]:
            rep = t.get("reported", {})
            top = max((level(f, rep.get(f)) for f in ("tempTop", "humidityTop")), key=rank.get)
            bottom = max((level(f, rep.get(f)) for f in ("tempBottom", "humidityBottom")), key=rank.get)
            worst = max(top, bottom, key=rank.get)
            stale = "lastSeen" not in t or now_ms - t["lastSeen"] > cfg["staleSeconds"] * 1000
            cat = ("critical" if worst == "crit" else "warning" if worst == "warn" else "stale" if stale
                   else "disconnected" if t.get("connected") is False else "ok")
            out[t["id"]] = (cat, top, bottom)
        cursor = page.get("cursor")
        if not cursor:
            return out


def test_load_times_at_1500_and_10000_racks(brokers, www, browser, artifacts):
    t_start = time.time()
    need_descriptors(4096)
    b = dashboard_broker(brokers, www, DEMO_OPTS)
    op = brokers.track(Requester5(b.port))
    floor = brokers.track(rack_floor.Floor(port=b.port))
    t0 = time.time()
    floor.create()
    made_s = time.time() - t0
    url = "http://127.0.0.1:%d/index.html?username=dashboard" % b.ws_port
    results = []      # (what, seconds, bound, kind: "load" time or "live" delay)

    def load_result(what, load, bound_first, bound_complete, since=0.0):
        def s(v):
            return (v - since) / 1000.0
        results.append(("%s: first racks drawn" % what, s(load["first"]), bound_first, "load"))
        results.append(("%s: every rack drawn, with presence" % what, s(load["complete"]), bound_complete, "load"))

    # -- 1 500 racks on an idle broker: the page opens on the attention list
    idle = open_and_load(browser, url)
    assert idle["racks"] == len(floor.racks), idle
    load_result("1 500 racks, idle broker", idle, FIRST_S, COMPLETE_S)
    idle_files = browser.js("() => performance.getEntriesByType('resource').map((e) => e.responseEnd)")

    # every rack as its twin says: the summary, the attention list, the floor map
    states = expected_states(op, time.time() * 1000)
    assert len(states) == len(floor.racks)
    count = {c: sum(1 for s in states.values() if s[0] == c) for c in ("critical", "warning", "stale", "disconnected")}
    assert count["critical"] == floor.kinds_count("hot") and count["disconnected"] == floor.kinds_count("disconnected"), count
    summary = browser.js("() => document.querySelector('#summary').textContent")
    assert summary.startswith("1 500 racks · %(critical)d critical · %(warning)d warning · %(stale)d stale · "
                              "%(disconnected)d disconnected" % count), (summary, count)
    order = ["critical", "warning", "stale", "disconnected"]
    rows = browser.attention()
    assert {r[0] for r in rows} == {i for i, s in states.items() if s[0] != "ok"}
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), key=order.index), "groups out of order"
    for cat in order:   # newest first within a group
        since = [int(r[2].split("|")[2]) for r in rows if r[1] == cat]
        assert since == sorted(since, reverse=True), (cat, since)
    shots = [shot(browser, artifacts, "dashboard-floor-attention.png", full=False)]
    browser.view("map")
    browser.wait("(n) => document.querySelectorAll('.fm-cell').length === n", len(floor.racks),
                 what="every rack on the floor map")
    cells = browser.map_cells()
    wrong = {i: (cells[i]["cat"], cells[i]["top"], cells[i]["bottom"], s) for i, s in states.items()
             if (cells[i]["cat"], cells[i]["top"], cells[i]["bottom"]) != s}
    assert not wrong, "floor map cells that disagree with their twin: %r" % list(wrong.items())[:5]
    placed = {(c["site"], c["row"], c["col"]) for c in cells.values()}
    assert placed == {(s, r, str(p)) for _, s, r, p in floor.racks}
    shots.append(shot(browser, artifacts, "dashboard-floor-map.png", full=False))

    # -- the floor reporting (every rack every 10 s: 150 readings/s) from here on: a new page
    floor.report_in_background()
    time.sleep(1)
    live = open_and_load(browser, url)
    assert live["racks"] == len(floor.racks), live
    load_result("1 500 racks", live, FIRST_S, COMPLETE_S)

    # live readings, in the racks view: every reading is on screen
    browser.view("racks")
    browser.wait("(n) => document.querySelectorAll('.tile').length === n", len(floor.racks), what="1 500 tiles")
    shots.append(shot(browser, artifacts, "dashboard-floor-racks.png", full=False))
    browser.js("() => { window.twinDashboard.lags.length = 0; }")
    sent = floor.sent
    time.sleep(LIVE_S)
    sent = floor.sent - sent
    time.sleep(0.5)
    lags = sorted(browser.js("() => window.twinDashboard.lags"))
    assert len(lags) >= 0.9 * sent, "%d readings sent, %d drawn" % (sent, len(lags))
    p50, p99 = lags[len(lags) // 2], lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    results.append(("live, 1 500 racks every 10 s (%d readings): p99 delay to the screen" % len(lags),
                    p99 / 1000.0, LAG_P99_S, "live"))
    browser.view("alarms")
    shots.append(shot(browser, artifacts, "dashboard-floor-alarms.png", full=False))

    # -- a reconnection: a client taking the page's client id makes the broker drop the page, which
    # connects again by itself and loads everything again
    client_id = browser.js("() => window.twinDashboard.api.clientId")
    Client(b.port, client_id=client_id).close()
    again = wait_load(browser, 1, timeout_s=60)
    assert again["reconnect"], again
    load_result("reconnection, 1 500 racks", again, FIRST_S, COMPLETE_S, since=again["start"])

    # -- 10 000 racks: 8 500 more, made fast (one connection: they show disconnected), a new page
    more = rack_floor.Floor(port=b.port, sites=17, first_site=4, one_connection=True, hot=30, warm=60,
                            humid=20, disconnected=0, stale=0)
    brokers.track(more)
    t0 = time.time()
    more.create()
    # their readings came on one connection at QoS 0, still on their way when create() returns (a slow
    # broker, e.g. under ASan, takes seconds): written once every rack has a reading
    wait_until(lambda: op.ok("$twin/search", {"filter": "exists(reported/tempTop)", "count": True,
                                              "limit": 1})["count"] == len(floor.racks) + len(more.racks),
               timeout=60, msg="the 8 500 readings written")
    made_10k_s = time.time() - t0
    big = open_and_load(browser, url)
    assert big["racks"] == 10000, big
    results.append(("10 000 racks: every rack drawn, with presence", big["complete"] / 1000.0,
                    COMPLETE_10K_S, "load"))
    assert browser.js("() => document.querySelectorAll('.att-row').length") == \
        browser.js("() => window.twinDashboard.cfg.attentionMax"), "the attention list is not capped"

    errors = [line for line in browser.logs() if line.startswith(("pageerror", "console.error"))]
    assert not errors, errors
    print("\nissue 18 targets: headless Chromium, the demo configuration (websockets listener with http_dir), "
          "the racks of examples/rack-floor (made in %.1f s; 8 500 more in %.1f s)" % (made_s, made_10k_s))
    for what, v, bound, _ in results:
        print("  %-72s %6.2f s  bound %.1f s%s" % (what, v, bound, "" if v <= bound else "  MISSED"))
    for what, load in (("idle broker", idle), ("racks reporting", live)):
        print("  1 500 racks, %s: the page's code connected %.2f s after it was opened, the first page of "
              "racks drawn %.2f s later, the last one %.2f s later" % (what, load["start"] / 1000.0,
                                                                      (load["first"] - load["start"]) / 1000.0,
                                                                      (load["complete"] - load["start"]) / 1000.0))
    print("  10 000 racks: the page's code connected %.2f s after it was opened, the last page drawn %.2f s later"
          % (big["start"] / 1000.0, (big["complete"] - big["start"]) / 1000.0))
    print("  idle broker: the page's %d files over http_dir, the last done at %.2f s" % (len(idle_files), max(idle_files) / 1000.0))
    print("  live delay p50 %d ms, p99 %d ms, max %d ms; test %.0f s" % (p50, p99, lags[-1], time.time() - t_start))
    print("  screenshots: %s" % ", ".join(shots))
    missed = [r for r in results if r[1] > r[2]]
    text = "; ".join("%s: %.2f s (bound %.1f s)" % (w, v, bnd) for w, v, bnd, _ in missed)
    load_avg, cores = os.getloadavg()[0], os.cpu_count() or 1
    overloaded = load_avg > OVERLOADED_PER_CORE * cores
    print("  load average %.1f on %d cores%s" % (load_avg, cores, " (overloaded)" if overloaded else ""))
    assert not missed or (overloaded and all(r[3] != "live" for r in missed)), "missed: " + text
    if missed:
        pytest.xfail("the machine was overloaded (load average %.1f on %d cores, the test itself brings about "
                     "3), so its load times say little: %s" % (load_avg, cores, text))


# ----------------------------------------------------------------- models and alarms

RACK_MODEL = {
    "name": "rack-th", "title": "Rack T&H sensor",
    "reported": {"type": "object", "properties": {
        "tempTop": {"type": "number", "unit": "°C", "minimum": -20, "maximum": 80},
        "tempBottom": {"type": "number", "unit": "°C", "minimum": -20, "maximum": 80},
        "humidityTop": {"type": "number", "unit": "%RH", "minimum": 0, "maximum": 100},
        "humidityBottom": {"type": "number", "unit": "%RH", "minimum": 0, "maximum": 100}}},
    "desired": {"type": "object", "additionalProperties": False, "properties": {
        "fanSpeed": {"type": "integer", "minimum": 0, "maximum": 5, "title": "Fan speed"},
        "mode": {"type": "string", "enum": ["eco", "normal", "boost"]},
        "label": {"type": "string", "pattern": "^[a-z]+$"}}},
    "alarms": [
        {"name": "hot-top", "severity": "critical", "raise": "gt(reported/tempTop,32)",
         "clear": "lt(reported/tempTop,30)", "for_s": 0},
        {"name": "humid-bottom", "severity": "minor", "raise": "gt(reported/humidityBottom,60)", "for_s": 0}],
}
COOL = {"tempTop": 24.0, "tempBottom": 21.0, "humidityTop": 45, "humidityBottom": 48}


def models_broker(brokers, www, tmp_path):
    """A dashboard broker with RACK_MODEL in its models_dir."""
    d = tmp_path / "models"
    d.mkdir()
    (d / "rack-th.json").write_text(json.dumps(RACK_MODEL))
    return dashboard_broker(brokers, www, {"models_dir": str(d), "commit_interval_ms": 20})


def test_alarms_and_model_driven_editor(brokers, www, browser, artifacts, tmp_path):
    b = models_broker(brokers, www, tmp_path)
    op = brokers.track(Requester5(b.port))
    devs = {tid: brokers.track(Device(b.port, tid)) for tid in ("m-1", "m-2", "plain-1")}
    for tid in devs:
        op.ok("$twin/%s/update" % tid, {"attributes": {"site": "dc1", "row": "A", "position": int(tid[-1])
                                                       + (2 if tid.startswith("plain") else 0)}})
    op.ok("$twin/m-1/update", {"attributes": {"model": "rack-th"}})
    op.ok("$twin/m-2/update", {"attributes": {"model": "rack-th"}})
    devs["m-1"].telemetry(COOL)
    devs["m-2"].telemetry(dict(COOL, tempTop=35.0))             # raises hot-top (critical)
    devs["plain-1"].telemetry(dict(COOL, tempTop=35.0))         # no model: critical by the thresholds
    wait_until(lambda: op.twin("m-2").get("alarms", {}).get("hot-top", {}).get("active"),
               msg="hot-top raised on m-2")

    browser.open("http://127.0.0.1:%d/?username=dashboard" % b.ws_port, viewport={"width": 1280, "height": 860})
    browser.wait("() => document.body.dataset.ready === 'true'", what="the first load")
    # the attention list: m-2 by its alarm (unacknowledged, with a button), plain-1 by the thresholds
    browser.wait("() => document.querySelectorAll('.att-row').length === 2", what="two racks needing attention")
    rows = browser.attention()
    assert [r[:2] for r in rows] == [("m-2", "critical"), ("plain-1", "critical")], rows
    assert browser.js("() => document.querySelector('.att-row[data-id=\"m-2\"] .alarm-chip').textContent"
                      ).startswith("hot-top · critical")
    # units from the model where there is one
    browser.view("racks")
    assert browser.tile("m-1")["cells"]["humidityTop"][0] == "45%RH"
    assert browser.tile("plain-1")["cells"]["humidityTop"][0] == "45%"
    assert browser.tile("m-2")["level"] == "crit" and browser.tile("m-1")["level"] == "ok"

    # the alarms view: acknowledge; then the rack cools down: cleared and acknowledged, it is gone
    browser.view("alarms")
    browser.wait("() => document.querySelector('.alarm-row[data-id=\"m-2\"][data-alarm=\"hot-top\"]')",
                 what="hot-top in the alarms view")
    shot(browser, artifacts, "dashboard-alarms.png", full=False)
    browser.call("click", '.alarm-row[data-alarm="hot-top"] button.ack')
    browser.wait("() => document.querySelector('.alarm-row[data-alarm=\"hot-top\"]').dataset.state === 'active,acked'",
                 what="hot-top acknowledged")
    assert op.twin("m-2")["alarms"]["hot-top"]["acked"] is True
    devs["m-2"].telemetry({"tempTop": 25.0})
    browser.wait("() => !document.querySelector('.alarm-row[data-alarm=\"hot-top\"]')",
                 what="hot-top gone once cleared and acknowledged")
    assert "hot-top" not in op.twin("m-2").get("alarms", {})
    # raised live: a minor alarm on m-1 reaches the attention list without a reload
    devs["m-1"].telemetry({"humidityBottom": 66})
    browser.view("attention")
    browser.wait("() => document.querySelector('.att-row[data-id=\"m-1\"] .alarm-chip.sev-minor')",
                 what="humid-bottom on m-1 in the attention list")
    assert op("$twin/m-1/ack", {"alarm": "no-such"}).status == 404

    # the desired editor from the model: out of range refused here, before sending; a value only the
    # broker can judge (a pattern) refused there, with its message
    browser.call("click", '.att-row[data-id="m-1"]')
    browser.call("waitForSelector", "#desired-save")
    assert browser.js("""() => { const f = document.querySelector('[name="desired.fanSpeed"]');
                          return [f.type, f.min, f.max].join(); }""") == "number,0,5"
    version = op.twin("m-1")["version"]
    browser.call("fill", '[name="desired.fanSpeed"]', "9")
    browser.call("click", "#desired-save")
    browser.wait("() => document.querySelector('#desired-status').dataset.state === 'invalid'",
                 what="9 refused before sending")
    assert "above the maximum 5" in browser.js("() => document.querySelector('#desired-status').textContent")
    assert op.twin("m-1")["version"] == version and op.twin("m-1")["desired"] == {}
    browser.call("fill", '[name="desired.fanSpeed"]', "3")
    browser.call("selectOption", '[name="desired.mode"]', '"boost"')
    browser.call("click", "#desired-save")
    browser.wait("() => document.querySelector('#desired-status').dataset.state === 'ok'",
                 what="a valid save")
    assert op.twin("m-1")["desired"] == {"fanSpeed": 3, "mode": "boost"}
    browser.call("fill", '[name="desired.label"]', "ABC")
    browser.call("click", "#desired-save")
    browser.wait("() => document.querySelector('#desired-status').dataset.state === 'refused'",
                 what="the broker's 400")
    text = browser.js("() => document.querySelector('#desired-status').textContent")
    assert "400" in text and "label" in text, text
    shot(browser, artifacts, "dashboard-model-editor.png", full=False)
    errors = [line for line in browser.logs() if line.startswith(("pageerror", "console.error"))]
    assert not errors, errors
