"""Answers to websockets clients (plugin/websockets.c) and the websockets listener's own work
(plugin/ws_listener.c). Mosquitto 2.0.11 as Debian ships it sends a websockets client one 4 KB chunk per
broker loop pass, and an idle pass waits 100 ms in epoll_wait, so a ~100 KB $twin/search answer took
2.4 s to a websockets client (5 ms over TCP) until the plugin kept the loop turning while such an answer
goes out. The listener's `http_dir` files and websockets handshakes, which libwebsockets serves a loop
pass per step, took 0.3 s a file and 0.1 s a connection on an idle broker until the plugin watched
those sockets. Checked here: a ~100 KB answer, and three of them asked at once, arrive whole over
websockets in well under the 2.4 s each the broker alone takes; files and connections on an idle broker
take milliseconds; and afterwards the broker thread sleeps again (its CPU over 2 s of quiet, with the
client still connected)."""
import json
import os
import time
import urllib.request

import pytest

from broker import Broker, free_port, slowdown
from clients import Client, Requester5, corr_of, parse_json

PREFIX = "wsans"
TWINS = 200          # search's largest page
NOTE = 170           # bytes of each twin's reported.note: an answer of ~100 KB
ANSWER_BYTES = 90000
# Unfixed, every answer takes >= 2.4 s (25 chunks, one per 100 ms pass), whatever the machine's load;
# fixed, ~10 ms. The bounds leave a loaded CI machine two orders of magnitude.
ONE_ANSWER_S = 1.0
THREE_ANSWERS_S = 1.5
IDLE_CPU_SHARE = 0.05   # of one core over the quiet interval (idle: ~0.05 %); a pacer left on takes ~15 %
# http_dir files: a page and a script the size of the dashboard's MQTT.js bundle (more than a socket takes
# at once). Unfixed, a file takes 0.2-0.3 s and a websockets connection 0.1 s on an idle broker, whatever
# the machine's load (a loop pass of up to 100 ms per step); fixed, 1-5 ms. The bound is on the median.
FILES = {"page.html": b"<!doctype html><title>t</title>\n" * 30, "big.js": bytes(range(256)) * 1400}
LISTENER_STEP_S = 0.05

SEARCH = {"filter": 'like(id,"%s-*")' % PREFIX, "limit": TWINS}


@pytest.fixture(scope="module")
def ws_broker():
    """The plugin with a websockets listener beside the plain one, holding TWINS twins of ~500 B."""
    b = Broker(name="websockets broker")
    b.ws_port = free_port()
    www = os.path.join(b.tmp, "www")
    os.mkdir(www)
    for name, body in FILES.items():
        with open(os.path.join(www, name), "wb") as f:
            f.write(body)
    b.extra_conf = ["listener %d 127.0.0.1" % b.ws_port, "socket_domain ipv4", "protocol websockets",
                    "http_dir %s" % www]
    b.websockets = True   # Mosquitto's own websockets leak is suppressed for this broker only
    b.start()
    c = Client(b.port)
    try:
        note = "x" * NOTE
        for i in range(TWINS):
            c.publish("devices/%s-%03d/telemetry" % (PREFIX, i),
                      json.dumps({"tempTop": 21.5, "note": note}), qos=1 if i == TWINS - 1 else 0)
    finally:
        c.close()
    yield b
    b.close()


@pytest.fixture
def ws_rr(ws_broker):
    rr = Requester5(ws_broker.ws_port, transport="websockets")
    yield rr
    rr.close()


def timed_search(rr):
    t0 = time.monotonic()
    a = rr("$twin/search", SEARCH, timeout=30 * slowdown())
    return time.monotonic() - t0, a


def check_whole(a):
    assert a.status == 200, a.body
    assert len(a.body["items"]) == TWINS, len(a.body["items"])
    assert len(a.raw) > ANSWER_BYTES, len(a.raw)


def test_big_answer_over_websockets_is_fast(ws_broker, ws_rr):
    tcp = Requester5(ws_broker.port)
    try:
        tcp_secs, a = timed_search(tcp)
    finally:
        tcp.close()
    check_whole(a)
    times = []
    for _ in range(3):
        secs, a = timed_search(ws_rr)
        check_whole(a)
        times.append(secs)
    assert min(times) < ONE_ANSWER_S * slowdown(), \
        "a %d-byte answer took %s s over websockets (%.3f s over TCP)" % (len(a.raw), times, tcp_secs)


def test_answers_in_flight_together_over_websockets(ws_rr):
    t0 = time.monotonic()
    corrs = [ws_rr.send("$twin/search", SEARCH) for _ in range(3)]
    for corr in corrs:
        m = ws_rr.client.get(lambda m, corr=corr: corr_of(m) == corr,
                             timeout=30 * slowdown(), desc="answer %r" % corr)
        body = parse_json(m.payload)
        assert len(body["items"]) == TWINS and len(m.payload) > ANSWER_BYTES
    secs = time.monotonic() - t0
    assert secs < THREE_ANSWERS_S * slowdown(), "3 answers took %.2f s over websockets" % secs


def fetch(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, name), timeout=30 * slowdown()) as r:
        assert r.read() == FILES[name], name


def test_listener_files_and_connections_on_an_idle_broker(ws_broker):
    times = {"page.html": [], "big.js": [], "connection": []}
    for _ in range(7):
        for what in times:
            time.sleep(0.15)   # idle: the broker's loop asleep in epoll_wait
            t0 = time.monotonic()
            if what == "connection":
                Client(ws_broker.ws_port, transport="websockets").close()
            else:
                fetch(ws_broker.ws_port, what)
            times[what].append(time.monotonic() - t0)
    medians = {what: sorted(t)[len(t) // 2] for what, t in times.items()}
    slow = {what: m for what, m in medians.items() if m > LISTENER_STEP_S * slowdown()}
    assert not slow, "median seconds on an idle broker: %r (each: %r)" % (medians, times)


def broker_thread_cpu(pid):
    """CPU seconds of the broker's main thread (Mosquitto's loop and the plugin's callbacks)."""
    with open("/proc/%d/task/%d/stat" % (pid, pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_broker_sleeps_again_after_websockets_answers(ws_broker, ws_rr):
    secs, a = timed_search(ws_rr)
    check_whole(a)
    fetch(ws_broker.ws_port, "big.js")
    Client(ws_broker.ws_port, transport="websockets").close()
    time.sleep(0.2)   # the last passes of the budget
    pid, quiet = ws_broker.proc.pid, 2.0
    c0 = broker_thread_cpu(pid)
    time.sleep(quiet)
    used = broker_thread_cpu(pid) - c0
    assert used < IDLE_CPU_SHARE * quiet * slowdown(), \
        "the broker thread used %.2f s of CPU in %.0f s of quiet after a websockets answer" % (used, quiet)
