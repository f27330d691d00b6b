"""A real Mosquitto broker with the mosquitto-twin plugin, for end-to-end tests.

Environment:
  TWIN_PLUGIN    path of mosquitto_twin.so (default: <repo>/build/mosquitto_twin.so);
                 set to an empty string to start a plain broker without the plugin
                 (only useful to check the harness itself)
  MOSQUITTO      broker binary (default: `mosquitto` on PATH, else /usr/sbin/mosquitto)
  TWIN_PRELOAD   LD_PRELOAD for the broker only (ASan run); sanitizer reports in the
                 log then fail the test at stop
  TWIN_BROKER_WRAPPER  words put before the broker command, split as a shell would, e.g.
                 "valgrind --leak-check=full --suppressions=tests/valgrind.supp"; start
                 and stop then wait WRAPPER_SLOWDOWN times longer. When the first word is
                 valgrind, each start writes valgrind-N.xml (and .log) in the broker's temp
                 dir, and the test fails at stop on any error or definite/indirect leak
                 in it (see check_valgrind)
  TWIN_KEEP_TMP  1 = keep every broker's temp dir (config, log, db)
"""
import functools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

# a wrapped broker (valgrind) starts, answers and stops this many times slower
WRAPPER_SLOWDOWN = 10.0

# valgrind error kinds that fail a test: every error but the leak kinds other than definite and
# indirect (possibly lost, still reachable)
VALGRIND_IGNORED_KINDS = ("Leak_PossiblyLost", "Leak_StillReachable")

# every Broker ever created in this session (conftest prints the log tails of the
# ones involved in a failing test)
REGISTRY = []


def plugin_path():
    p = os.environ.get("TWIN_PLUGIN")
    if p is None:
        return os.path.join(REPO, "build", "mosquitto_twin.so")
    if p == "":
        return None
    return os.path.abspath(p)


def mosquitto_binary():
    b = os.environ.get("MOSQUITTO")
    if b:
        return b
    return shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@functools.lru_cache(maxsize=None)
def mosquitto_version():
    """The broker binary's version, e.g. (2, 0, 11) (`mosquitto -h` prints it, and exits 3)."""
    out = subprocess.run([mosquitto_binary(), "-h"], capture_output=True, text=True).stdout
    m = re.search(r"^mosquitto version (\d+)\.(\d+)\.(\d+)", out, re.M)
    assert m, "%s -h: no version" % mosquitto_binary()
    return tuple(int(x) for x in m.groups())


def broker_refuses_response_topic(topic):
    """From 2.0.20 on, Mosquitto checks a PUBLISH's response topic itself: an empty one or one with a
    wildcard is a protocol error, and the client is disconnected before any plugin sees the message."""
    return mosquitto_version() >= (2, 0, 20) and (topic == "" or "+" in topic or "#" in topic)


def wrapper():
    return shlex.split(os.environ.get("TWIN_BROKER_WRAPPER", ""))


def slowdown():
    return WRAPPER_SLOWDOWN if wrapper() else 1.0


def is_ours(frame):
    """A valgrind stack frame in the plugin (its module, or our sources)."""
    obj = frame.findtext("obj") or ""
    src = frame.findtext("dir") or ""
    return (os.path.basename(obj) == "mosquitto_twin.so"
            or any(src == d or src.startswith(d + os.sep)
                   for d in (os.path.join(REPO, "src"), os.path.join(REPO, "plugin"))))


def describe_valgrind_error(err):
    """One valgrind <error> as text: what, then its stacks (function file:line, or object)."""
    what = err.findtext("what") or err.findtext("xwhat/text") or err.findtext("kind")
    lines = ["%s: %s" % (err.findtext("kind"), what)]
    for child in err:
        if child.tag == "auxwhat" or (child.tag == "xauxwhat" and child.findtext("text")):
            lines.append("  %s" % (child.text if child.tag == "auxwhat" else child.findtext("text")))
        elif child.tag == "stack":
            for fr in child.findall("frame"):
                where = ("%s:%s" % (fr.findtext("file"), fr.findtext("line"))
                         if fr.findtext("file") else fr.findtext("obj") or "?")
                lines.append("    %s %s" % (fr.findtext("fn") or fr.findtext("ip"), where))
    return "\n".join(lines)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# LeakSanitizer suppressions for a broker with a websockets listener (see the file)
LSAN_MOSQUITTO = os.path.join(HERE, "lsan_mosquitto.supp")


def broker_env(websockets=False, per_listener=False):
    """The environment a broker runs in: TWIN_PRELOAD as its LD_PRELOAD (the sanitizer run), with
    Mosquitto's own leaks suppressed when it has a websockets listener or per_listener_settings (whose
    leak is recognised by a frame that only full stacks show)."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    pre = os.environ.get("TWIN_PRELOAD")
    if pre:
        env["LD_PRELOAD"] = pre
        options = [env.get("LSAN_OPTIONS")]
        if websockets or per_listener:
            options.append("suppressions=" + LSAN_MOSQUITTO)
        if per_listener:
            options.append("fast_unwind_on_malloc=0")
        env["LSAN_OPTIONS"] = ":".join(filter(None, options))
    return env


def keep_tmp():
    return os.environ.get("TWIN_KEEP_TMP") == "1"


class BrokerError(AssertionError):
    pass


class Broker:
    """One mosquitto process. Options are plugin_opt_<name> values (db_path is set
    to <tmp>/db unless given). `extra_conf` lines are appended verbatim after the
    plugin options."""

    def __init__(self, opts=None, extra_conf=(), tmpdir=None, port=None, with_plugin=True,
                 db_path=None, name="broker", max_queued=1000000, layout=None):
        self.tmp = tmpdir or tempfile.mkdtemp(prefix="twin-e2e-")
        self.own_tmp = tmpdir is None
        self.port = port or free_port()
        self.opts = dict(opts or {})
        self.extra_conf = list(extra_conf)
        self.with_plugin = with_plugin
        self.db_path = db_path or os.path.join(self.tmp, "db")
        self.name = name
        self.max_queued = max_queued
        # layout(broker) -> the whole config as lines, for set-ups the default head cannot express
        # (per_listener_settings must come first); it places plugin_lines() where it wants them
        self.layout = layout
        self.websockets = False    # set when extra_conf adds a websockets listener
        self.conf_path = os.path.join(self.tmp, "mosquitto.conf")
        self.log_path = os.path.join(self.tmp, "broker.log")
        self.proc = None
        self.returncode = None
        self.starts = 0
        self.refused_start = False
        self.killed = False        # this start ended with SIGKILL (its valgrind report is cut short)
        self.created = time.time()
        self.last_active = time.time()
        REGISTRY.append(self)

    # ---------------------------------------------------------------- config
    def plugin_lines(self, options=True):
        """The plugin line and, when options, its plugin_opt_* lines (db_path first)."""
        plugin = plugin_path() if self.with_plugin else None
        if not plugin:
            return []
        lines = ["plugin %s" % plugin]
        if options:
            lines.append("plugin_opt_db_path %s" % self.db_path)
            lines += ["plugin_opt_%s %s" % (k, v) for k, v in self.opts.items()]
        return lines

    def conf_text(self):
        if self.layout:
            return "\n".join(self.layout(self)) + "\n"
        lines = [
            "listener %d 127.0.0.1" % self.port,
            "allow_anonymous true",
            "set_tcp_nodelay true",
            # not 0 (unlimited): on 2.0.11, max_queued_messages 0 makes the broker
            # disconnect every client whose PUBLISH is denied ("Bad socket
            # read/write: Unknown error"), i.e. every $twin requester (the plugin
            # consumes requests by denying them). test_config covers it.
            "max_queued_messages %d" % self.max_queued,
            "persistence false",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        lines += ["log_dest stdout", "log_type all"]
        lines += self.plugin_lines()
        lines += self.extra_conf
        return "\n".join(lines) + "\n"

    def write_conf(self):
        with open(self.conf_path, "w") as f:
            f.write(self.conf_text())

    # ---------------------------------------------------------------- process

    def _spawn(self):
        self.write_conf()
        self.starts += 1
        self.last_active = time.time()
        log = open(self.log_path, "ab")
        log.write(("----- start #%d -----\n" % self.starts).encode())
        log.flush()
        self.killed = False
        wrap = wrapper()
        if wrap and os.path.basename(wrap[0]) == "valgrind":
            # mosquitto unloads the plugin before valgrind's leak check: keep its symbols,
            # or the plugin's frames in a leak's stack are only addresses
            wrap[1:1] = ["--xml=yes", "--xml-file=" + self.valgrind_path("xml"),
                         "--log-file=" + self.valgrind_path("log"), "--keep-debuginfo=yes"]
        cmd = ["stdbuf", "-oL"] + wrap + [mosquitto_binary(), "-c", self.conf_path]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=broker_env(self.websockets,
                                                    "per_listener_settings true" in self.conf_text()),
                                     cwd=self.tmp, start_new_session=True)
        log.close()
        self.returncode = None

    def valgrind_path(self, ext):
        return os.path.join(self.tmp, "valgrind-%d.%s" % (self.starts, ext))

    def start(self, timeout=10.0):
        """Start and wait until the port accepts connections."""
        timeout *= slowdown()
        self._spawn()
        deadline = time.time() + timeout
        while time.time() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise BrokerError("broker exited with %s during start-up\n%s"
                                  % (rc, self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.02)
        self.kill9()
        raise BrokerError("broker did not accept connections within %.0f s\n%s"
                          % (timeout, self.log_tail()))

    def start_expect_exit(self, timeout=10.0):
        """Start a broker that must refuse to run. Returns its exit code; fails if it
        is still running (and accepting connections) after `timeout`."""
        timeout *= slowdown()
        self._spawn()
        deadline = time.time() + timeout
        running_since = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                break
            now = time.time()
            if running_since is None and " running" in self.log_text():
                running_since = now
            # the broker got through config + plugin init and is serving: give a
            # late refusal 1 s, then fail
            if now >= deadline or (running_since is not None
                                   and now - running_since > 1.0 * slowdown()):
                self.kill9()
                raise BrokerError("broker expected to exit, but it was still running\n%s"
                                  % self.log_tail())
            time.sleep(0.02)
        self.returncode = rc
        self.proc = None
        self.refused_start = True
        self.check_reports(refused_start=True)
        return rc

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15.0, check=True):
        """SIGTERM; assert exit code 0 (and no sanitizer or valgrind report) when check."""
        if self.proc is None:
            return self.returncode
        timeout *= slowdown()
        self.last_active = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise BrokerError("broker did not exit within %.0f s of SIGTERM\n%s"
                              % (timeout, self.log_tail()))
        self.proc = None
        self.returncode = rc
        if check:
            self.check_reports()  # first: a report says more than the exit code
            if rc != 0:
                raise BrokerError("broker exited with %s after SIGTERM (expected 0)\n%s"
                                  % (rc, self.log_tail()))
        return rc

    def kill9(self):
        if self.proc is None:
            return
        self.last_active = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.killed = True
        self.proc.wait()
        self.returncode = self.proc.returncode
        self.proc = None

    def restart(self, kill=False, timeout=10.0):
        """Stop (SIGTERM, or SIGKILL when kill) and start again on the same port and
        db dir."""
        if kill:
            self.kill9()
        else:
            self.stop()
        return self.start(timeout=timeout)

    def close(self):
        """Finalizer: stop (checked) and remove the temp dir unless TWIN_KEEP_TMP=1."""
        try:
            if self.running:
                self.stop()
            else:
                if self.proc is not None:
                    self.returncode = self.proc.poll()
                    self.proc = None
                self.check_reports(refused_start=self.refused_start)
        finally:
            if self.proc is not None:
                self.kill9()
            if self.own_tmp and not keep_tmp():
                shutil.rmtree(self.tmp, ignore_errors=True)

    # ---------------------------------------------------------------- logs
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        lines = self.log_text().splitlines()
        return "---- %s log tail (%s) ----\n%s" % (self.name, self.log_path,
                                                   "\n".join(lines[-n:]))

    def check_reports(self, refused_start=False):
        self.check_sanitizers(refused_start)
        self.check_valgrind(refused_start)

    def check_sanitizers(self, refused_start=False):
        """Fail on any sanitizer report in the log (TWIN_PRELOAD runs only).

        refused_start: the broker exited through its own start-up error path
        (plugin refused to load). Mosquitto 2.0.11 itself leaks its config there
        (frames only in /usr/sbin/mosquitto), so a LeakSanitizer report then fails
        only if one of its stacks goes through the plugin."""
        if not os.environ.get("TWIN_PRELOAD"):
            return
        text = self.log_text()
        for marker in SANITIZER_MARKERS:
            if marker not in text:
                continue
            idx = text.index(marker)
            report = text[max(0, idx - 2000): idx + 8000]
            if refused_start and marker == "LeakSanitizer":
                leak = text[idx:]
                if not any(x in leak for x in ("mosquitto_twin", REPO + "/src/",
                                                REPO + "/plugin/")):
                    continue
            raise BrokerError("sanitizer report in broker log (%s):\n%s" % (marker, report))

    def check_valgrind(self, refused_start=False):
        """Fail on any error in this start's valgrind report (TWIN_BROKER_WRAPPER=valgrind
        runs only): invalid accesses, uses of uninitialised values, bad frees, and definite
        or indirect leaks (mosquitto's and libc's own leaks at exit are suppressed in
        tests/valgrind.supp, each with its reason). A start that ended with kill -9 has no
        complete report and is not checked.

        refused_start: as in check_sanitizers, leaks on mosquitto's start-up error path fail
        only if one of their stacks goes through the plugin."""
        path = self.valgrind_path("xml")
        if self.killed or not os.path.exists(path):
            return
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            raise BrokerError("valgrind report %s is incomplete (%s): did the broker exit?\n%s"
                              % (path, e, self.log_tail()))
        found = []
        for err in root.iter("error"):
            kind = err.findtext("kind") or ""
            if kind in VALGRIND_IGNORED_KINDS:
                continue
            if (refused_start and kind.startswith("Leak_")
                    and not any(is_ours(fr) for fr in err.iter("frame"))):
                continue
            found.append(describe_valgrind_error(err))
        if found:
            raise BrokerError("valgrind: %d error(s) in %s (TWIN_KEEP_TMP=1 keeps it):\n\n%s\n%s"
                              % (len(found), path, "\n\n".join(found), self.log_tail()))

    def wait_log(self, needle, timeout=5.0):
        timeout *= slowdown()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.log_text():
                return True
            time.sleep(0.02)
        return False

    def __repr__(self):
        return "<Broker %s port=%d tmp=%s>" % (self.name, self.port, self.tmp)
