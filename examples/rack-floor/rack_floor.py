#!/usr/bin/env python3
"""rack_floor.py - a data-centre floor of rack sensors against a running broker with the plugin (the
demo: `cmake --build build --target run`, port 1884), for the rack dashboard.

Makes 1 500 racks by default (3 sites x 10 rows x 50 positions, ids like dc1-A-07) with attributes
site/row/position and four readings each (tempTop, tempBottom, humidityTop, humidityBottom); a few run
hot (critical), some warm (warning), some humid. Each rack is a device of its own (a connection whose
client id is the twin id, so the dashboard shows it connected) that reports every --interval seconds,
spread evenly; a few disconnect after --leave-after seconds, and a few stay connected but fall silent
after their first reading (stale once the dashboard's staleSeconds pass: open it with ?staleSeconds=60
to see them sooner).
Runs until Ctrl-C; --once makes the racks and their first readings and exits (every rack then shows
disconnected).

  python3 examples/rack-floor/rack_floor.py --model rack-th # the 1 500 racks, live, with alarms
  python3 examples/rack-floor/rack_floor.py --sites 10 --rows 20 --one-connection --once
                                                            # 10 000 racks, fast, no presence

--one-connection sends every reading from one connection instead (fast, for many racks, but no rack
is then connected). Attributes are set with $twin/{id}/update requests (MQTT v5, pipelined); the
readings are telemetry on devices/{id}/telemetry. Needs python3-paho-mqtt; the devices speak MQTT 3.1.1
over plain sockets (one thread drives them all), so 1 500 of them cost 1 500 file descriptors here and
in the broker (ulimit -n).
"""
import argparse
import json
import random
import socket
import struct
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROWS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def layout(sites, rows, positions, first_site=1):
    """[(id, site, row, position)] in site, row, position order; sites dc<first_site>, dc<first_site+1>..."""
    return [("dc%d-%s-%02d" % (s, ROWS[r], p), "dc%d" % s, ROWS[r], p)
            for s in range(first_site, first_site + sites) for r in range(rows)
            for p in range(1, positions + 1)]


def plan(racks, hot, warm, humid, disconnected, stale, seed):
    """Which racks are hot, warm, humid, disconnected or stale: {id: kind} (the rest are normal).
    The same seed gives the same floor."""
    rnd = random.Random(seed)
    ids = [r[0] for r in racks]
    picked = rnd.sample(ids, min(len(ids), hot + warm + humid + disconnected + stale))
    kinds = {}
    for kind, n in (("hot", hot), ("warm", warm), ("humid", humid), ("disconnected", disconnected),
                    ("stale", stale)):
        for tid in picked[:n]:
            kinds[tid] = kind
        picked = picked[n:]
    return kinds


def reading(kind, rnd):
    """A rack's four readings (°C, % RH) for its kind."""
    r = {"tempTop": round(rnd.uniform(22.0, 26.0), 1), "tempBottom": round(rnd.uniform(19.0, 22.0), 1),
         "humidityTop": round(rnd.uniform(38, 52)), "humidityBottom": round(rnd.uniform(40, 55))}
    if kind == "hot":
        r["tempTop"] = round(rnd.uniform(33.0, 38.0), 1)
        if rnd.random() < 0.3:
            r["tempBottom"] = round(rnd.uniform(32.5, 35.0), 1)
    elif kind == "warm":
        r["tempTop"] = round(rnd.uniform(27.5, 31.5), 1)
    elif kind == "humid":
        r["humidityBottom"] = round(rnd.uniform(62, 75))
    return r


def _s(text):
    b = text.encode()
    return struct.pack("!H", len(b)) + b


def _packet(kind, body):
    n, rl = len(body), bytearray()
    while True:
        b, n = n % 128, n // 128
        rl.append(b | (0x80 if n else 0))
        if not n:
            return bytes([kind]) + bytes(rl) + body


class Device:
    """One rack's sensor: an MQTT 3.1.1 connection whose client id is the twin id, publishing QoS 0."""

    def __init__(self, host, port, client_id, keepalive=600):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(_packet(0x10, _s("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive)
                                  + _s(client_id)))
        ack = b""
        while len(ack) < 4:
            part = self.sock.recv(4 - len(ack))
            if not part:
                raise ConnectionError("%s: the broker closed the connection" % client_id)
            ack += part
        if ack[0] != 0x20 or ack[3] != 0:
            raise ConnectionError("%s: CONNACK %r" % (client_id, ack))
        self.sock.setblocking(False)

    def _send(self, data):
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def publish(self, topic, payload):
        self._send(_packet(0x30, _s(topic) + payload))

    def ping(self):
        self._send(_packet(0xC0, b""))
        try:
            self.sock.recv(4096)    # PINGRESPs
        except BlockingIOError:
            pass

    def close(self):
        try:
            self.sock.setblocking(True)
            self.sock.sendall(_packet(0xE0, b""))
        except OSError:
            pass
        self.sock.close()


class Operator:
    """An MQTT v5 client sending $twin requests without waiting for each answer (a window of
    `window` requests in flight); requests answered 429 are sent again after the advised wait."""

    def __init__(self, host, port, window=500):
        self.c = mqtt.Client(client_id="rack-floor-%s" % uuid.uuid4().hex[:8], protocol=mqtt.MQTTv5)
        self.reply = "replies/%s" % self.c._client_id.decode()
        self.cond = threading.Condition()
        self.waiting = {}           # correlation data -> (topic, payload)
        self.failed = []
        self.retry = []
        self.window = window
        self.connected = threading.Event()
        self.c.on_connect = lambda *a: self.connected.set()
        self.c.on_message = self._answer
        self.c.connect(host, port)
        self.c.loop_start()
        if not self.connected.wait(10):
            raise ConnectionError("no CONNACK from %s:%d" % (host, port))
        self.c.subscribe(self.reply)

    def _answer(self, client, userdata, msg):
        corr = bytes(msg.properties.CorrelationData)
        status = dict(msg.properties.UserProperty).get("status")
        body = json.loads(msg.payload)
        with self.cond:
            req = self.waiting.pop(corr, None)
            if req and status == "429":
                self.retry.append((time.time() + body.get("retryAfterMs", 100) / 1000.0, req))
            elif req and status != "200":
                self.failed.append((req[0], status, body.get("error")))
            self.cond.notify_all()

    def send(self, topic, payload):
        with self.cond:
            self.cond.wait_for(lambda: len(self.waiting) < self.window, timeout=30)
            corr = uuid.uuid4().bytes
            self.waiting[corr] = (topic, payload)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply
        props.CorrelationData = corr
        self.c.publish(topic, json.dumps(payload), qos=0, properties=props)

    def wait(self, timeout=120):
        """Until every request is answered (429s sent again); raises on a refusal or a timeout."""
        deadline = time.time() + timeout
        while True:
            with self.cond:
                due = [r for t, r in self.retry if t <= time.time()]
                self.retry = [(t, r) for t, r in self.retry if t > time.time()]
                done = not self.waiting and not self.retry and not due
            for topic, payload in due:
                self.send(topic, payload)
            if self.failed:
                raise RuntimeError("refused: %s" % self.failed[:3])
            if done:
                return
            if time.time() > deadline:
                raise TimeoutError("%d requests unanswered" % len(self.waiting))
            with self.cond:
                self.cond.wait(0.05)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class Floor:
    """The racks of a floor and their devices: create() sets the attributes and sends everyone's first
    reading; publish(seconds) goes on reporting at the configured interval."""

    def __init__(self, host="127.0.0.1", port=1884, sites=3, rows=10, positions=50, hot=12, warm=25,
                 humid=10, disconnected=8, stale=6, interval=10.0, one_connection=False, seed=18,
                 first_site=1, leave_after=0.0, model=None):
        self.host, self.port, self.interval = host, port, interval
        self.model = model    # attributes.model of every rack (a model the broker loaded), or None
        self.leave_after = leave_after     # when the disconnected ones leave (0: after their first reading)
        self.one_connection = one_connection
        self.racks = layout(sites, rows, positions, first_site)
        self.kinds = plan(self.racks, hot, warm, humid, disconnected, stale, seed)
        self.rnd = random.Random(seed + 1)
        self.current = {tid: reading(self.kinds.get(tid, "normal"), self.rnd) for tid, *_ in self.racks}
        self.devices = {}
        self.shared = None
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = None

    def kinds_count(self, kind):
        return sum(1 for k in self.kinds.values() if k == kind)

    def live(self):
        """The racks that keep reporting."""
        gone = ("disconnected", "stale") if not self.leave_after else ("stale",)
        return [tid for tid, *_ in self.racks if self.kinds.get(tid) not in gone]

    def leave(self):
        """The devices of the disconnected racks disconnect."""
        for tid, kind in self.kinds.items():
            if kind == "disconnected" and tid in self.devices:
                self.devices.pop(tid).close()
        self.leave_after = 0.0

    def create(self):
        op = Operator(self.host, self.port)
        try:
            for tid, site, row, pos in self.racks:
                attributes = {"site": site, "row": row, "position": pos}
                if self.model:
                    attributes["model"] = self.model
                op.send("$twin/%s/update" % tid, {"attributes": attributes})
            op.wait()
        finally:
            op.close()
        if self.one_connection:
            self.shared = Device(self.host, self.port, "rack-floor-%s" % uuid.uuid4().hex[:8])
        for tid, *_ in self.racks:
            if not self.one_connection:
                self.devices[tid] = Device(self.host, self.port, tid)
            self.send(tid)
        self.created = time.time()
        if not self.leave_after:
            self.leave()

    def send(self, tid, values=None):
        """One reading of tid (its current values, changed by `values`), from its own device."""
        if values:
            self.current[tid].update(values)
        dev = self.shared or self.devices[tid]
        dev.publish("devices/%s/telemetry" % tid, json.dumps(self.current[tid]).encode())
        self.sent += 1

    def step(self, tid):
        """A new reading of a live rack: its values drift a little."""
        cur = self.current[tid]
        for k in cur:
            cur[k] = round(cur[k] + self.rnd.uniform(-0.2, 0.2), 1)
        self.send(tid)

    def publish(self, seconds, on_send=None):
        """Every live rack reports once per interval, spread evenly, for `seconds`; on_send(tid, t)
        after each reading."""
        live = self.live()
        gap = self.interval / max(1, len(live))
        start = time.time()
        i = 0
        last_ping = start
        while time.time() - start < seconds and not self.stopping.is_set():
            if self.leave_after and time.time() - self.created >= self.leave_after:
                self.leave()
                live = self.live()
                gap = self.interval / max(1, len(live))
                start, i = time.time(), 0
            due = start + i * gap
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            tid = live[i % len(live)]
            self.step(tid)
            if on_send:
                on_send(tid, time.time())
            i += 1
            if time.time() - last_ping > 60:
                last_ping = time.time()
                for d in list(self.devices.values()) + ([self.shared] if self.shared else []):
                    d.ping()

    def report_in_background(self):
        """publish() on a thread of its own, until close()."""
        self.thread = threading.Thread(target=self.publish, args=(float("inf"),), daemon=True)
        self.thread.start()

    def close(self):
        self.stopping.set()
        if self.thread:
            self.thread.join(10)
        for d in list(self.devices.values()) + ([self.shared] if self.shared else []):
            d.close()
        self.devices = {}
        self.shared = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1884)
    ap.add_argument("--sites", type=int, default=3)
    ap.add_argument("--first-site", type=int, default=1, help="number of the first site (dc1)")
    ap.add_argument("--rows", type=int, default=10, help="at most 26 (A-Z)")
    ap.add_argument("--positions", type=int, default=50)
    ap.add_argument("--hot", type=int, default=12, help="racks over tempCrit (critical)")
    ap.add_argument("--warm", type=int, default=25, help="racks over tempWarn (warning)")
    ap.add_argument("--humid", type=int, default=10, help="racks with humidityBottom over 60 %%")
    ap.add_argument("--disconnected", type=int, default=8, help="devices that leave after --leave-after s")
    ap.add_argument("--leave-after", type=float, default=30.0,
                    help="seconds of reports before the disconnected ones leave (0: after one reading)")
    ap.add_argument("--stale", type=int, default=6, help="devices that stay connected but fall silent")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between two readings of a rack")
    ap.add_argument("--one-connection", action="store_true",
                    help="every reading from one connection (fast; no rack is connected)")
    ap.add_argument("--model", help="attributes.model of every rack, e.g. rack-th (the demo loads it from "
                    "examples/models): the broker then raises its alarms")
    ap.add_argument("--once", action="store_true", help="make the racks and exit")
    ap.add_argument("--seed", type=int, default=18)
    a = ap.parse_args()
    if not 1 <= a.rows <= len(ROWS):
        ap.error("--rows must be 1-%d" % len(ROWS))
    floor = Floor(a.host, a.port, a.sites, a.rows, a.positions, a.hot, a.warm, a.humid, a.disconnected,
                  a.stale, a.interval, a.one_connection, a.seed, a.first_site,
                  0.0 if a.once else a.leave_after, a.model)
    t0 = time.time()
    try:
        floor.create()
        print("%d racks made in %.1f s (%s); dashboard: http://%s:8080/?staleSeconds=60"
              % (len(floor.racks), time.time() - t0,
                 ", ".join("%d %s" % (list(floor.kinds.values()).count(k), k)
                           for k in ("hot", "warm", "humid", "disconnected", "stale")), a.host),
              flush=True)
        if not a.once:
            print("reporting every %g s; Ctrl-C stops" % a.interval, flush=True)
            floor.publish(float("inf"))
    except KeyboardInterrupt:
        pass
    except (OSError, RuntimeError, TimeoutError) as e:
        sys.exit("rack_floor: %s" % e)
    finally:
        floor.close()


if __name__ == "__main__":
    main()
