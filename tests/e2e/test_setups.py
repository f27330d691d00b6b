"""The Mosquitto set-ups operators run, each a real broker with the same core checks: telemetry reaches
the twin, a GET and an update are answered, the desired state is pushed to the device, events are
published, and nobody forges the plugin's topics (nor, where the set-up has ACLs, touches another device's
twin).

- default: one listener, no ACLs.
- per_listener: per_listener_settings true; devices on a mutual TLS listener whose certificate CN is the
  username (use_identity_as_username) and an acl_file with %u patterns, applications on a plain loopback
  listener; the plugin loaded on both (one store). On Mosquitto 2.0.11 to 2.0.14 this runs the loopback
  wake connection (plugin/loopback.c).
- dynsec: dynamic-security beside the plugin, set up by the README's mosquitto_ctrl recipe, run as
  written (on this broker's port and file).
- persistence: persistence true (Mosquitto's own store beside the plugin's).
- bridge: the README's multi-site recipe: a site broker with the plugin bridges its devices' telemetry and
  its twins' events to a central broker, whose acl_file lets only the site write them.
- websockets: applications on a websockets listener.

MOSQUITTO=<binary> runs the whole matrix against another broker build (see README, Building and testing).
"""
import glob
import os
import re
import subprocess
import time

import pytest

from broker import Broker, REPO, free_port, mosquitto_binary, mosquitto_version
from clients import Client, Requester5, TIMEOUT, parse_json, wait_until
from tls_certs import make_pki, mtls_listener_conf

DEVICE, OTHER = "sensor-7", "sensor-8"   # the README's dynsec recipe names these
QUIET = 0.5                              # a refused message has had time to arrive by then
# the one built beside a broker built from source (MOSQUITTO=<build>/src/mosquitto), else Debian's
DYNSEC_PLUGIN = (glob.glob(os.path.join(os.path.dirname(os.path.realpath(mosquitto_binary())), "..",
                                        "plugins", "dynamic-security", "*.so"))
                 + glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") + [None])[0]
SETUPS = ["default", "per_listener", "dynsec", "persistence", "bridge", "websockets"]


class Site:
    """One set-up: its brokers and how each kind of client connects."""

    def __init__(self, name, tmp):
        self.name, self.tmp = name, tmp
        self.brokers, self.clients = [], []
        self.confines_devices = False   # an ACL keeps a device to its own twin
        self.events_broker = None       # where events are watched (the central broker of a bridge)

    def broker(self, **kw):
        b = Broker(name="%s broker #%d" % (self.name, len(self.brokers) + 1), **kw)
        self.brokers.append(b)
        return b

    def track(self, c):
        self.clients.append(c)
        return c

    # how clients connect; overridden per set-up
    def device_kw(self, d):
        return {}

    def device_port(self):
        return self.brokers[0].port

    def app_kw(self):
        return {}

    def app_port(self):
        return self.brokers[0].port

    def device(self, d):
        return self.track(Client(self.device_port(), client_id=d, **self.device_kw(d)))

    def app(self):
        return self.track(Requester5(self.app_port(), **self.app_kw()))

    def watcher(self, topic):
        """A client subscribed to topic where events are watched."""
        b = self.events_broker or self.brokers[0]
        kw = self.watch_kw() if self.events_broker else self.app_kw()
        port = b.port if self.events_broker else self.app_port()
        w = self.track(Client(port, **kw))
        w.subscribe(topic)
        return w

    def close_clients(self):
        for c in reversed(self.clients):
            try:
                c.close()
            except Exception:
                pass
        self.clients = []

    def close(self):
        self.close_clients()
        errors = []
        for b in self.brokers:
            try:
                b.close()
            except Exception as e:
                errors.append(e)
        if errors:
            raise errors[0]


def root_line():
    return ["user root"] if os.geteuid() == 0 else []


def setup_default(site):
    site.broker().start()


def setup_persistence(site):
    b = site.broker()
    b.extra_conf = ["persistence true", "persistence_location %s/" % b.tmp, "autosave_interval 1"]
    b.start()


def setup_websockets(site):
    b = site.broker()
    b.ws_port = free_port()
    b.extra_conf = ["listener %d 127.0.0.1" % b.ws_port, "socket_domain ipv4", "protocol websockets"]
    b.websockets = True
    b.start()
    site.app_kw = lambda: {"transport": "websockets"}
    site.app_port = lambda: b.ws_port


def per_listener_layout(pki, acl, plain_listener_plugin=True):
    """per_listener_settings true: the devices' mutual TLS listener with its acl_file and the plugin,
    then the applications' plain loopback listener, with the plugin again when plain_listener_plugin."""
    def layout(br):
        return (["per_listener_settings true"] + root_line()
                + ["log_dest stdout", "log_type all", "set_tcp_nodelay true",
                   "max_queued_messages 1000000", "persistence false"]
                + mtls_listener_conf(pki, br.tls_port) + ["acl_file %s" % acl]
                + br.plugin_lines()
                + ["listener %d 127.0.0.1" % br.port, "allow_anonymous true"]
                + (br.plugin_lines(options=False) if plain_listener_plugin else []))
    return layout


def setup_per_listener(site):
    pki = make_pki(os.path.join(site.tmp, "pki"), [DEVICE, OTHER])
    acl = os.path.join(site.tmp, "devices.acl")
    with open(acl, "w") as f:   # the certificate's CN is the username: %u
        f.write("pattern write devices/%u/telemetry\npattern read devices/%u/desired\n"
                "pattern write $twin/%u/get\npattern write $twin/%u/update\n"
                "pattern readwrite replies/%u\n")
    b = site.broker()
    b.tls_port = free_port()
    b.layout = per_listener_layout(pki, acl)
    b.start()
    site.pki, site.acl = pki, acl
    site.confines_devices = True
    site.device_port = lambda: b.tls_port
    site.device_kw = lambda d: {"tls": (pki.ca,) + tuple(pki.clients[d])}


def readme_dynsec_block():
    text = open(os.path.join(REPO, "README.md")).read()
    m = re.search(r"<!-- tests/e2e/test_setups.py runs this block.*?-->\n```sh\n(.*?)```", text, re.S)
    assert m, "the README's dynsec recipe block is gone"
    return m.group(1)


def setup_dynsec(site):
    assert DYNSEC_PLUGIN, "mosquitto_dynamic_security.so not found (Debian package: mosquitto)"
    b = site.broker()
    conf = os.path.join(b.tmp, "dynamic-security.json")
    script = (readme_dynsec_block().replace("/var/lib/mosquitto/dynamic-security.json", conf)
              .replace("mosquitto_ctrl ", "mosquitto_ctrl -p %d " % b.port))
    init, rest = script.split("\n", 1)
    subprocess.run(["bash", "-ec", init], check=True, capture_output=True, timeout=30)
    os.chmod(conf, 0o644)
    b.extra_conf = ["plugin %s" % DYNSEC_PLUGIN, "plugin_opt_config_file %s" % conf]
    b.start()
    r = subprocess.run(["bash", "-ec", rest], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "Error" not in r.stdout, "recipe failed:\n%s%s" % (r.stdout, r.stderr)
    site.confines_devices = True
    site.device_kw = lambda d: {"username": d, "password": "pw-" + d}
    site.app_kw = lambda: {"username": "ops", "password": "pw-ops"}


def setup_bridge(site):
    """The README's multi-site recipe: central broker without the plugin, site broker bridging out."""
    central = site.broker(with_plugin=False)
    acl = os.path.join(central.tmp, "central.acl")
    with open(acl, "w") as f:
        f.write("user site-a\ntopic write devices/+/telemetry\ntopic write $twin/+/events\n"
                "user app\ntopic read devices/+/telemetry\ntopic read $twin/+/events\n")
    central.extra_conf = ["acl_file %s" % acl]
    central.start()
    site_b = site.broker()
    site_b.extra_conf = ["connection central", "address 127.0.0.1:%d" % central.port,
                         "remote_username site-a", "remote_clientid site-a",
                         "topic devices/+/telemetry out 1", "topic $twin/+/events out 1"]
    site_b.start()
    assert site_b.wait_log("Connecting bridge"), "the bridge did not start"
    site.brokers = [site_b, central]      # devices and applications use the site
    site.events_broker = central
    site.watch_kw = lambda: {"username": "app"}
    wait_until(lambda: "site-a" in central.log_text() and "as site-a" in central.log_text(),
               msg="the site's bridge connected to the central broker", timeout=20)


@pytest.fixture(scope="module", params=SETUPS)
def site(request, tmp_path_factory):
    s = Site(request.param, str(tmp_path_factory.mktemp(request.param)))
    try:
        globals()["setup_" + request.param](s)
        yield s
    finally:
        s.close()


@pytest.fixture(autouse=True)
def own_clients(request):
    """Each matrix test's clients are closed at its end (a device id connects once at a time)."""
    yield
    if "site" in request.fixturenames:
        request.getfixturevalue("site").close_clients()


def test_telemetry_reaches_the_twin(site):
    dev, app = site.device(DEVICE), site.app()
    dev.publish("devices/%s/telemetry" % DEVICE, {"temp": 21.5}, qos=1)
    wait_until(lambda: (lambda a: a.status == 200 and a.body["reported"].get("temp") == 21.5)(
        app.get(DEVICE)), msg="the telemetry in the twin")


def test_update_is_answered_and_desired_pushed(site):
    dev, app = site.device(DEVICE), site.app()
    dev.subscribe("devices/%s/desired" % DEVICE)
    a = app.update(DEVICE, {"desired": {"fan": 3}})
    assert a.status == 200, (a.status, a.body)
    assert a.body["desired"] == {"fan": 3}
    m = dev.get(lambda m: m.topic == "devices/%s/desired" % DEVICE and parse_json(m.payload).get("delta", {}).get("fan") == 3,
                desc="desired push")
    assert m
    assert app.twin(DEVICE)["desired"]["fan"] == 3


def test_events_are_published(site):
    w = site.watcher("$twin/%s/events" % DEVICE)
    app = site.app()
    assert app.update(DEVICE, {"attributes": {"room": "b12"}}).status == 200
    m = w.get(lambda m: m.topic == "$twin/%s/events" % DEVICE, desc="an event")
    assert parse_json(m.payload)


def test_nobody_forges_the_plugins_topics(site):
    w = site.watcher("$twin/%s/events" % DEVICE)
    forger = site.track(Client(site.app_port(), **site.app_kw()))
    forger.publish("$twin/%s/events" % DEVICE, b'{"forged":true}', qos=1)
    if site.events_broker:   # and at the central broker, whose acl_file lets only the site write
        central = site.track(Client(site.events_broker.port, username="app"))
        central.publish("$twin/%s/events" % DEVICE, b'{"forged":true}', qos=1)
    time.sleep(QUIET)
    assert not [m for m in w.all if b"forged" in m.payload], "a forged event was delivered"


def test_a_device_stays_out_of_another_devices_twin(site):
    if not site.confines_devices:
        pytest.skip("no ACL in this set-up: every client may touch every twin, as without the plugin")
    app = site.app()
    before = app.twin(DEVICE)["version"]
    other = site.track(Requester5(site.device_port(), client_id=OTHER, **site.device_kw(OTHER)))
    other.send("$twin/%s/update" % DEVICE, {"desired": {"fan": 99}}, qos=1)
    with pytest.raises(AssertionError):
        other.any_answer(timeout=QUIET)
    assert app.twin(DEVICE)["version"] == before
    # its own twin is its own
    assert other.update(OTHER, {"reported": {"ok": True}}).status == 200


def test_how_the_broker_thread_is_woken(site):
    """per_listener_settings true: Mosquitto before 2.0.15 runs no tick for per-listener plugins, so the
    plugin wakes itself through its loopback connection (the checks above passed through it); later
    versions tick every listener's plugins and the plugin never connects."""
    if site.name != "per_listener":
        pytest.skip("the broker ticks: nothing to check")
    b = site.brokers[0]
    loopback = "wakes itself through a loopback MQTT connection to port %d" % b.port
    if mosquitto_version() < (2, 0, 15):
        assert b.wait_log(loopback), "no loopback wake connection on a broker without ticks"
    else:
        assert "mosquitto-twin-wake" not in b.log_text(), "a loopback connection on a broker that ticks"


def test_per_listener_without_a_plain_listener_says_why(tmp_path):
    """The plugin on the mutual TLS listener only: on a broker without ticks it cannot reach itself, and
    says so (with what to change) at the first message, instead of leaving writes unanswered in silence."""
    pki = make_pki(str(tmp_path / "pki"), [DEVICE])
    acl = tmp_path / "devices.acl"
    acl.write_text("pattern write devices/%u/telemetry\n")
    b = Broker(name="per-listener broker, plugin on the TLS listener only")
    b.tls_port = free_port()
    b.layout = per_listener_layout(pki, str(acl), plain_listener_plugin=False)
    try:
        b.start()
        if mosquitto_version() >= (2, 0, 15):
            pytest.skip("this broker ticks every listener's plugins")
        time.sleep(4.0)   # the loopback thread gives up looking after 3 s (and keeps trying)
        dev = Client(b.tls_port, client_id=DEVICE, tls=(pki.ca,) + tuple(pki.clients[DEVICE]))
        try:
            dev.publish("devices/%s/telemetry" % DEVICE, {"t": 1}, qos=1)
            assert b.wait_log("no plain MQTT listener (not TLS, not websockets) loads it"), \
                "no word about the missing plain listener"
        finally:
            dev.close()
    finally:
        b.close()
