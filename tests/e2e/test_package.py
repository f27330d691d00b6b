"""The Debian package (debian/, built by tools/build-deb.sh) on this machine, with the real package
tools, as an admin would use it (README, "Install into an existing Mosquitto"):

- `apt-get install ./mosquitto-twin_*.deb`: the files where Debian keeps them, the database directory
  for user mosquitto, and a broker started with the installed conf.d snippet as it is runs without the
  plugin;
- the snippet's own command uncomments its plugin line; a broker on a test port with that snippet
  (running as user mosquitto, as Debian's does) logs `mosquitto_twin: ready`, takes telemetry, answers a
  $twin get and serves the dashboard the package ships; twinctl reads the database as user mosquitto;
- an upgrade (the same package under a higher version) keeps the enabled line and every twin;
- `apt-get remove` keeps the database and warns that the enabled line now names a missing plugin;
  `apt-get purge` says it deletes the database, and does.

It runs where TWIN_DEB names the .deb (run-all.sh's "Debian package" stage sets it), as root, with dpkg
and apt-get, and only on a machine where mosquitto-twin is not installed and /var/lib/mosquitto/twin does
not exist (the purge would delete it); else it is skipped, saying why. The checks that the packaging
files agree with the README, .ci/run and twinctl run everywhere."""
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
import urllib.request

import pytest

from broker import free_port, mosquitto_binary, plugin_path
from clients import Device, Requester5, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DB = "/var/lib/mosquitto/twin"
CONF = "/etc/mosquitto/conf.d/mosquitto-twin.conf"
DASHBOARD = "/usr/share/mosquitto-twin/dashboard"


def read(*parts):
    with open(os.path.join(REPO, *parts)) as f:
        return f.read()


def cmake_version():
    return re.search(r"project\(mosquitto_twin VERSION (\S+)", read("CMakeLists.txt")).group(1)


# ---------------------------------------------------------------- everywhere: the files agree

def test_build_depends_are_installed_by_ci_and_the_readme():
    """Every Build-Depends of debian/control is installed by .ci/run (so CI can build the package), and
    the README's package command installs the tools tools/build-deb.sh needs."""
    control = read("debian", "control")
    field = re.search(r"(?ms)^Build-Depends:(.*?)^(?=\S)", control).group(1)
    names = {re.sub(r"\s*\(.*", "", d.strip()) for d in field.split(",") if d.strip()}
    ci = set(re.search(r"packages=\(([^)]*)\)", read(".ci", "run")).group(1).split())
    # debhelper-compat comes with debhelper; npm with .ci/run's "nodejs npm" (or NodeSource's nodejs)
    names = {"debhelper" if n == "debhelper-compat" else n for n in names} - {"npm"}
    assert names <= ci, "Build-Depends that .ci/run does not install: %s" % sorted(names - ci)
    assert "packages+=(nodejs npm)" in read(".ci", "run")
    readme = read("README.md")
    command = re.search(r"(?m)^.*tools/build-deb\.sh$", readme).group(0)
    for tool in ("debhelper", "lintian", "apt-get build-dep -y ./"):
        assert tool in command, command
    assert set(("debhelper", "lintian")) <= ci


def test_man_page_names_every_command_and_option_of_the_help():
    twinctl = os.path.join(os.path.dirname(plugin_path()), "twinctl")
    text = subprocess.run([twinctl, "--help"], capture_output=True, text=True, check=True).stdout
    words = set(re.findall(r"(?m)^  ([a-z]+) ", text)) | set(re.findall(r"--[a-z][a-z-]+", text))
    words.add("from-wot")
    man = read("tools", "twinctl", "twinctl.1.in").replace("\\-", "-").replace("\\fB", "").replace("\\fR", "")
    missing = sorted(w for w in words if w not in man)
    assert not missing, "in twinctl --help, not in its man page: %s" % missing
    assert len(words) > 15, words


def test_snippet_enables_nothing_and_has_one_plugin_line():
    """build/mosquitto-twin.conf (the package's conf.d snippet): every line a comment; exactly one line
    starts '#plugin ' (what its sed command uncomments), naming the installed plugin; the command the
    README shows is the snippet's."""
    text = open(os.path.join(os.path.dirname(plugin_path()), "mosquitto-twin.conf")).read()
    lines = [l for l in text.splitlines() if l.strip()]
    assert all(l.startswith("#") for l in lines)
    plugin_lines = [l for l in lines if l.startswith("#plugin ")]
    assert len(plugin_lines) == 1 and plugin_lines[0].endswith("/mosquitto_twin.so"), plugin_lines
    sed = re.search(r"sed -i '[^']*' /etc/mosquitto/conf\.d/mosquitto-twin\.conf", text).group(0)
    assert sed in read("README.md")


# ---------------------------------------------------------------- as root, with the real package tools

def run(*cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if check:
        assert p.returncode == 0, "%s -> %d\n%s\n%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr)
    return p


def installed():
    p = run("dpkg-query", "-W", "-f=${Status}", "mosquitto-twin", check=False)
    return p.returncode == 0 and "installed" in p.stdout.split()


@pytest.fixture(scope="module")
def deb():
    path = os.environ.get("TWIN_DEB")
    if not path:
        pytest.skip("TWIN_DEB is not set (tools/build-deb.sh builds the .deb; run-all.sh's Debian "
                    "package stage sets it)")
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    if not (shutil.which("dpkg") and shutil.which("apt-get")):
        pytest.skip("no dpkg/apt-get: not a Debian machine")
    if installed():
        pytest.skip("mosquitto-twin is installed on this machine: the test would replace and purge it")
    if os.path.exists(DB):
        pytest.skip("%s exists: the test's purge would delete it" % DB)
    yield os.path.abspath(path)
    if installed() or os.path.exists(CONF):
        run("dpkg", "--purge", "mosquitto-twin", check=False)
    shutil.rmtree(DB, ignore_errors=True)


class Broker:
    """mosquitto on free loopback ports with the conf.d snippet copied from CONF, as Debian's broker
    runs (it drops to user mosquitto), plus a websockets listener serving the installed dashboard."""

    def __init__(self, tmp):
        self.tmp, self.port, self.ws = tmp, free_port(), free_port()
        confd = tmp / "conf.d"
        confd.mkdir(parents=True)
        shutil.copy(CONF, confd / "mosquitto-twin.conf")
        (tmp / "mosquitto.conf").write_text(
            "listener %d 127.0.0.1\nallow_anonymous true\nlog_dest stdout\nlog_type all\n"
            "listener %d 127.0.0.1\nsocket_domain ipv4\nprotocol websockets\nhttp_dir %s\n"
            "include_dir %s\n" % (self.port, self.ws, DASHBOARD, confd))
        self.log = tmp / "broker.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(["stdbuf", "-oL", mosquitto_binary(), "-c", str(tmp / "mosquitto.conf")],
                                         stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: "running" in self.text() or self.proc.poll() is not None, timeout=10,
                   msg="the broker started")
        assert self.proc.poll() is None, self.text()

    def text(self):
        return self.log.read_text()

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(15) == 0, self.text()


def twinctl_as_mosquitto(*args):
    return run("runuser", "-u", "mosquitto", "--", "/usr/bin/twinctl", *args).stdout


def test_install_enable_upgrade_remove_purge(deb, tmp_path):
    t0 = time.time()
    out = run("apt-get", "install", "-y", deb).stdout
    assert "installed, not enabled" in out, out

    # where Debian keeps things; the database directory for user mosquitto
    files = run("dpkg", "-L", "mosquitto-twin").stdout.split()
    multiarch = run("dpkg-architecture", "-qDEB_HOST_MULTIARCH").stdout.strip()
    plugin = "/usr/lib/%s/mosquitto_twin.so" % multiarch
    dynsec = "/usr/lib/%s/mosquitto_dynamic_security.so" % multiarch
    assert plugin in files and os.path.dirname(dynsec) == os.path.dirname(plugin)
    for f in ("/usr/bin/twinctl", "/usr/share/man/man1/twinctl.1.gz", CONF, DASHBOARD + "/index.html",
              DASHBOARD + "/mqtt.min.js", "/usr/share/doc/mosquitto-twin/changelog.gz"):
        assert f in files and os.path.isfile(f), f
    assert run("/usr/bin/twinctl", "--version").stdout.strip() == "twinctl (mosquitto-twin) %s" % cmake_version()
    st = os.stat(DB)
    assert pwd.getpwuid(st.st_uid).pw_name == "mosquitto" and stat.S_IMODE(st.st_mode) == 0o750

    # installed as it is, the snippet changes nothing
    b = Broker(tmp_path / "as-installed")
    b.stop()
    assert "mosquitto_twin" not in b.text()

    # the snippet's own command enables it
    sed = re.search(r"sed -i '[^']*' " + re.escape(CONF), open(CONF).read()).group(0)
    subprocess.run(sed, shell=True, check=True)
    b = Broker(tmp_path / "enabled")
    wait_until(lambda: "mosquitto_twin: ready; version=%s db_path=%s " % (cmake_version(), DB) in b.text(),
               msg="the ready line")
    r = Requester5(b.port)
    try:
        d = Device(b.port, "pkg-rack")
        d.telemetry({"tempTop": 24.5})
        d.close()
        assert r.twin("pkg-rack")["reported"] == {"tempTop": 24.5}
        page = urllib.request.urlopen("http://127.0.0.1:%d/index.html" % b.ws, timeout=5).read()
        assert b"boot.js" in page
        bundle = urllib.request.urlopen("http://127.0.0.1:%d/mqtt.min.js" % b.ws, timeout=5).read()
        assert len(bundle) > 100000
    finally:
        r.close()
    b.stop()
    assert twinctl_as_mosquitto("ls").split() == ["pkg-rack"]

    # an upgrade (this package under a higher version): the enabled line and the twins stay
    unpacked, newer = tmp_path / "unpacked", tmp_path / "newer.deb"
    run("dpkg-deb", "-R", deb, str(unpacked))
    control = unpacked / "DEBIAN" / "control"
    control.write_text(re.sub(r"(?m)^Version: (.*)$", r"Version: \1+upgradetest1", control.read_text()))
    run("dpkg-deb", "-b", str(unpacked), str(newer))
    out = run("apt-get", "install", "-y", str(newer)).stdout
    assert "upgraded from %s" % cmake_version() in out, out
    assert re.search(r"(?m)^plugin /", open(CONF).read())
    b = Broker(tmp_path / "upgraded")
    wait_until(lambda: "mosquitto_twin: ready" in b.text(), msg="the ready line after the upgrade")
    r = Requester5(b.port)
    try:
        assert r.twin("pkg-rack")["reported"] == {"tempTop": 24.5}
    finally:
        r.close()
    b.stop()

    # remove keeps the database (and warns about the enabled line); purge says so, and deletes it
    p = run("apt-get", "remove", "-y", "mosquitto-twin")
    assert "is kept" in p.stdout and "mosquitto will not start" in p.stdout + p.stderr, p.stdout + p.stderr
    assert os.path.isfile(os.path.join(DB, "data.mdb")) and not os.path.exists(plugin)
    p = run("apt-get", "purge", "-y", "mosquitto-twin")
    assert "purge: deleting the twin database in %s" % DB in p.stdout, p.stdout
    assert not os.path.exists(DB) and not os.path.exists(CONF)
    print("package installed, enabled, upgraded, removed and purged in %.1f s" % (time.time() - t0))
