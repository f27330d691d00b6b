"""The rack dashboard's page in headless Chromium, for test_dashboard.py: the fixtures (the page as a
broker serves it, playwright-core, where screenshots go, a browser), the Browser that drives
tests/e2e/browser_driver.cjs one JSON line at a time, and a broker that serves the page with the
dashboard ACL (the README's)."""
import json
import os
import queue
import subprocess
import threading

import pytest

import npm_packages
from broker import REPO, free_port

CHROMIUM = os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT_VERSION = "1.65.1"
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser_driver.cjs")


def missing():
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

    def attention(self):
        """The attention list as drawn: [(id, category, sort key)] in order."""
        return [tuple(r) for r in self.js("""() => [...document.querySelectorAll('.att-row')]
            .map((r) => [r.dataset.id, r.dataset.cat, r.dataset.key])""")]

    def map_cells(self):
        """The floor map as drawn: {id: {cat, top, bottom, site, row, col, classes}}."""
        return self.js("""() => Object.fromEntries([...document.querySelectorAll('.fm-cell')].map((c) => [
            c.dataset.id, {cat: c.dataset.cat, top: c.dataset.top, bottom: c.dataset.bottom,
                site: c.closest('.fm-site').dataset.site, row: c.closest('.fm-row').dataset.row,
                col: c.style.gridColumn, classes: c.className}]))""")

    def timings(self):
        """The page's loads: [{reconnect, start, first, complete, pages, racks, total}] (ms since the
        page was opened)."""
        return self.js("() => window.twinDashboard.timings")

    def view(self, name):
        """Switches to a view by its tab and waits until it is drawn."""
        self.call("click", "#tab-%s" % name)
        self.wait("(v) => !document.querySelector(`#view-${v}`).hidden", name, what="view %s" % name)

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

# the README's dashboard user: search, read, history, update desired, models, acknowledge alarms;
# watch events
user dashboard
topic write $twin/search
topic write $twin/+/get
topic write $twin/+/history
topic write $twin/+/update
topic write $twin/models
topic write $twin/+/model
topic write $twin/+/ack
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
