"""MQTT client helpers for the end-to-end tests (paho-mqtt 1.6.1, plus a raw socket
MQTT 3.1.1 client for protocol-level cases)."""
import itertools
import os
import json
import queue
import socket
import struct
import threading
import time
import uuid
from collections import namedtuple

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

TIMEOUT = float(os.environ.get("TWIN_TIMEOUT", "5"))
_seq = itertools.count(1)


def uniq(prefix="t"):
    """A short unique id, usable as twin id / client id."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def wait_until(fn, timeout=TIMEOUT, interval=0.02, msg="condition"):
    deadline = time.time() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.time() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s (last: %r)"
                                 % (timeout, msg, last))
        time.sleep(interval)


class DuplicateKey(ValueError):
    pass


def _no_dups(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise DuplicateKey("duplicate key %r in answer" % k)
        d[k] = v
    return d


def parse_json(payload):
    """Strict JSON parse of an answer (bytes): duplicate keys are an error."""
    if isinstance(payload, (bytes, bytearray)):
        payload = payload.decode("utf-8")
    return json.loads(payload, object_pairs_hook=_no_dups)


def encode(payload):
    if payload is None:
        return b""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return json.dumps(payload).encode("utf-8")


Msg = namedtuple("Msg", "topic payload qos retain properties t")


def user_props(msg):
    p = getattr(msg, "properties", None)
    if p is None or not hasattr(p, "UserProperty"):
        return []
    return list(p.UserProperty)


def status_of(msg):
    for k, v in user_props(msg):
        if k == "status":
            return int(v)
    return None


def corr_of(msg):
    p = getattr(msg, "properties", None)
    if p is None or not hasattr(p, "CorrelationData"):
        return None
    return bytes(p.CorrelationData)


class Client:
    """A connected paho client (loop_start) that queues every message it receives; transport
    "websockets" for a websockets listener, tls=(CA, certificate, key) for a mutual TLS one."""

    def __init__(self, port, client_id=None, v5=True, clean=True, keepalive=60, username=None,
                 password=None, transport="tcp", tls=None):
        self.port = port
        self.client_id = client_id if client_id is not None else uniq("c")
        self.v5 = v5
        if v5:
            self.c = mqtt.Client(client_id=self.client_id, protocol=mqtt.MQTTv5, transport=transport)
        else:
            self.c = mqtt.Client(client_id=self.client_id, clean_session=clean,
                                 protocol=mqtt.MQTTv311, transport=transport)
        self.c.reconnect_delay_set(0.1, 1)
        if username is not None:       # acl_file users need no password (no password_file)
            self.c.username_pw_set(username, password)
        if tls is not None:            # (CA, client certificate, key): mutual TLS
            self.c.tls_set(ca_certs=tls[0], certfile=tls[1], keyfile=tls[2])
        self.q = queue.Queue()
        self.all = []           # every message ever received
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self._disconnected = threading.Event()
        self._subacks = {}
        self.connack_rc = None
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        if v5:
            self.c.connect("127.0.0.1", port, keepalive=keepalive, clean_start=clean)
        else:
            self.c.connect("127.0.0.1", port, keepalive=keepalive)
        self.c.loop_start()
        if not self._connected.wait(TIMEOUT):
            self.c.loop_stop()
            raise AssertionError("client %s: no CONNACK within %s s" % (self.client_id, TIMEOUT))
        if self.connack_rc != 0:
            raise AssertionError("client %s: CONNACK rc %s" % (self.client_id, self.connack_rc))

    # callbacks ---------------------------------------------------------
    def _on_connect(self, c, ud, flags, rc, props=None):
        self.connack_rc = rc if isinstance(rc, int) else rc.value
        self._disconnected.clear()
        self._connected.set()

    def _on_disconnect(self, c, ud, rc, props=None):
        self._connected.clear()
        self._disconnected.set()

    def _on_message(self, c, ud, m):
        msg = Msg(m.topic, bytes(m.payload), m.qos, bool(m.retain),
                  getattr(m, "properties", None), time.time())
        with self._cond:
            self.all.append(msg)
            self._cond.notify_all()
        self.q.put(msg)

    def _on_subscribe(self, c, ud, mid, granted, props=None):
        with self._cond:
            self._subacks[mid] = granted
            self._cond.notify_all()

    # API ---------------------------------------------------------------
    def subscribe(self, topic, qos=1, timeout=TIMEOUT):
        """Subscribe (str or list of str) and wait for the SUBACK."""
        topics = [topic] if isinstance(topic, str) else list(topic)
        rc, mid = self.c.subscribe([(t, qos) for t in topics])
        assert rc == mqtt.MQTT_ERR_SUCCESS, "subscribe rc %s" % rc
        with self._cond:
            ok = self._cond.wait_for(lambda: mid in self._subacks, timeout)
        assert ok, "no SUBACK for %s" % topics
        return self._subacks[mid]

    def publish(self, topic, payload=None, qos=0, retain=False, properties=None,
                wait=True, timeout=TIMEOUT):
        info = self.c.publish(topic, encode(payload), qos=qos, retain=retain,
                              properties=properties)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, "publish rc %s" % info.rc
        if wait and qos > 0:
            info.wait_for_publish(timeout)
            assert info.is_published(), "no PUBACK/PUBCOMP for %s within %s s" % (topic, timeout)
        return info

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.q.get_nowait())
            except queue.Empty:
                return out

    def get(self, pred=None, timeout=TIMEOUT, desc="message"):
        """Next message (from the queue) matching pred; non-matching ones are skipped
        (but stay in self.all)."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                recent = [(m.topic, m.payload[:160] + (b"..." if len(m.payload) > 160 else b""))
                          for m in self.all[-5:]]
                raise AssertionError("%s: no %s within %.1f s; last messages received: %r"
                                     % (self.client_id, desc, timeout, recent))
            try:
                m = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if pred is None or pred(m):
                return m

    def sync(self, timeout=TIMEOUT):
        """Round trip through the broker: subscribe to a private topic, publish a
        marker and wait for it. Everything the broker queued for this client before
        the marker (e.g. retained messages after a SUBACK, leaked answers) has then
        been received."""
        topic = "sync/%s/%d" % (self.client_id, next(_seq))
        self.subscribe(topic, qos=1)
        self.publish(topic, b"marker", qos=1)
        self.get(lambda m: m.topic == topic, timeout=timeout, desc="sync marker")
        return topic

    def messages(self, topic=None):
        with self._cond:
            msgs = list(self.all)
        return [m for m in msgs if topic is None or m.topic == topic]

    def is_connected(self):
        return self._connected.is_set()

    def wait_reconnected(self, timeout=TIMEOUT):
        assert self._connected.wait(timeout), "%s did not reconnect" % self.client_id

    def disconnect(self):
        try:
            self.c.disconnect()
            self._disconnected.wait(TIMEOUT)
        finally:
            self.c.loop_stop()

    close = disconnect


# ----------------------------------------------------------------- requests

class RR5(namedtuple("RR5", "status body corr topic")):
    """Answer to an MQTT v5 request: status user property (int), parsed JSON body,
    correlation data (bytes), topic it arrived on. `.msg` is the raw message."""
    msg = None
    raw = None


class Requester5:
    """MQTT v5 request/response over one connection (response topic + correlation
    data). Callable: rr5(topic, payload) -> RR5."""

    def __init__(self, port, client_id=None, subscribe=True, **client_kw):
        self.port, self.do_subscribe, self.client_kw = port, subscribe, client_kw
        self.client = Client(port, client_id=client_id or uniq("rr5"), v5=True, **client_kw)
        self.response_topic = "replies/%s" % self.client.client_id
        if subscribe:
            # like mosquitto_rr; answers are targeted, the subscription must not
            # cause a second copy (checked in test_requests)
            self.client.subscribe(self.response_topic, qos=0)

    def reset(self):
        """New connection (after the broker was restarted under us)."""
        self.client.close()
        self.__init__(self.port, subscribe=self.do_subscribe, **self.client_kw)

    def send(self, topic, payload=None, corr=None, response_topic=None, qos=0,
             retain=False, user_properties=(), no_response_topic=False):
        props = Properties(PacketTypes.PUBLISH)
        if not no_response_topic:
            props.ResponseTopic = self.response_topic if response_topic is None else response_topic
        if corr is None:
            corr = ("c%d-%s" % (next(_seq), uuid.uuid4().hex[:6])).encode()
        if corr != b"":
            props.CorrelationData = corr
        for k, v in user_properties:
            props.UserProperty = (k, v)
        self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        return corr

    def __call__(self, topic, payload=None, corr=None, response_topic=None, qos=0,
                 retain=False, timeout=TIMEOUT, user_properties=()):
        rt = self.response_topic if response_topic is None else response_topic
        corr = self.send(topic, payload, corr=corr, response_topic=rt, qos=qos,
                         retain=retain, user_properties=user_properties)
        m = self.client.get(lambda m: m.topic == rt and corr_of(m) == corr,
                            timeout=timeout,
                            desc="answer to %s on %s (corr %r)" % (topic, rt, corr))
        return self._answer(m)

    def any_answer(self, timeout=TIMEOUT, pred=None):
        m = self.client.get(pred, timeout=timeout, desc="any answer")
        return self._answer(m)

    @staticmethod
    def _answer(m):
        try:
            body = parse_json(m.payload)
        except ValueError as e:
            raise AssertionError("answer on %s is not valid JSON (%s): %r"
                                 % (m.topic, e, m.payload[:300]))
        a = RR5(status_of(m), body, corr_of(m), m.topic)
        a.msg = m
        a.raw = m.payload
        return a

    def ok(self, topic, payload=None, **kw):
        """Request that must succeed; returns the body."""
        a = self(topic, payload, **kw)
        assert a.status == 200, "%s -> %s %r" % (topic, a.status, a.body)
        return a.body

    def get(self, twin_id, payload=None):
        return self(f"$twin/{twin_id}/get", payload)

    def twin(self, twin_id):
        """The twin document (asserting 200)."""
        return self.ok(f"$twin/{twin_id}/get")

    def update(self, twin_id, payload):
        return self(f"$twin/{twin_id}/update", payload)

    def delete(self, twin_id, payload=None):
        return self(f"$twin/{twin_id}/delete", payload)

    def stats(self):
        return self.ok("$twin/stats")

    def close(self):
        self.client.close()


RR311 = namedtuple("RR311", "outcome body topic")


class Requester311:
    """MQTT 3.1.1 request/response: answers on {topic}/accepted or {topic}/rejected.
    Callable: rr311(topic, payload) -> ("accepted"|"rejected", body, topic)."""

    def __init__(self, port, client_id=None, subscribe=True):
        self.port = port
        self.client = Client(port, client_id=client_id or uniq("rr311"), v5=False)
        self.do_subscribe = subscribe
        self._subscribed = set()

    def reset(self):
        self.client.close()
        self.__init__(self.port, subscribe=self.do_subscribe, **self.client_kw)

    def __call__(self, topic, payload=None, qos=0, timeout=TIMEOUT, token=None):
        if self.do_subscribe and topic not in self._subscribed:
            self.client.subscribe([topic + "/accepted", topic + "/rejected"], qos=0)
            self._subscribed.add(topic)
        self.client.drain()
        self.client.publish(topic, payload, qos=qos)

        def match(m):
            if m.topic not in (topic + "/accepted", topic + "/rejected"):
                return False
            if token is None:
                return True
            try:
                return parse_json(m.payload).get("token") == token
            except ValueError:
                return True
        m = self.client.get(match, timeout=timeout, desc="answer to %s" % topic)
        try:
            body = parse_json(m.payload)
        except ValueError as e:
            raise AssertionError("answer on %s is not valid JSON (%s): %r"
                                 % (m.topic, e, m.payload[:300]))
        return RR311(m.topic.rsplit("/", 1)[1], body, m.topic)

    def close(self):
        self.client.close()


def fill_store(r, prefix, body, limit=1000):
    """Updates twins {prefix}-0000, {prefix}-0001, ... with `body` through Requester5 `r` until one is
    not answered 200, or `limit` were. Returns (ids answered 200, the first other answer or None)."""
    ok = []
    for i in range(limit):
        tid = "%s-%04d" % (prefix, i)
        a = r.update(tid, body)
        if a.status != 200:
            return ok, a
        ok.append(tid)
    return ok, None


def rr_v5(port, topic, payload=None, **kw):
    """One-shot v5 request on a fresh connection -> (status, body, corr, topic)."""
    r = Requester5(port)
    try:
        return r(topic, payload, **kw)
    finally:
        r.close()


def rr_v311(port, topic, payload=None, **kw):
    """One-shot 3.1.1 request on a fresh connection -> (suffix, body, topic)."""
    r = Requester311(port)
    try:
        return r(topic, payload, **kw)
    finally:
        r.close()


class Device(Client):
    """A device: client id == twin id; publishes telemetry (QoS 1 by default, so the
    broker has the message when publish() returns)."""

    def __init__(self, port, twin_id, v5=False, **kw):
        super().__init__(port, client_id=twin_id, v5=v5, **kw)
        self.twin_id = twin_id

    def telemetry(self, payload, qos=1, topic=None, retain=False):
        return self.publish(topic or "devices/%s/telemetry" % self.twin_id, payload,
                            qos=qos, retain=retain)


class TelemetryFlow:
    """Telemetry from several devices (one connection, devices/{id}/telemetry) on a thread until
    stop(). start() first publishes one QoS 1 message per device and waits for its PUBACK (the broker
    has it: a write answered after that was committed with it; `acked[id]` is its `n`), then the thread
    publishes QoS 0 round robin. Payload {"n": n, "k<n % 7>": n}; n counts on from `first_n`, so flows
    started one after another never go back. A vanished broker (kill -9) is not an error: the
    thread keeps trying until stop()."""

    def __init__(self, port, twin_ids, first_n=0, pause_every=5):
        self.port, self.twin_ids, self.pause_every = port, list(twin_ids), pause_every
        self.n = first_n            # next n to publish; after stop(), where the next flow starts
        self.sent = 0               # messages published by this flow
        self.acked = {}
        self._stop = threading.Event()
        self._thread = None
        self.client = None

    def _publish(self, qos):
        tid = self.twin_ids[self.n % len(self.twin_ids)]
        n = self.n
        self.n += 1
        self.client.publish("devices/%s/telemetry" % tid, {"n": n, "k%d" % (n % 7): n}, qos=qos,
                            wait=qos > 0)
        self.sent += 1
        return tid, n

    def start(self):
        self.client = Client(self.port, v5=False)
        for _ in self.twin_ids:
            tid, n = self._publish(qos=1)
            self.acked[tid] = n
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                self._publish(qos=0)
            except AssertionError:
                time.sleep(0.01)    # broker gone: keep going until told to stop
            if self.sent % self.pause_every == 0:
                time.sleep(0.001)

    def stop(self, timeout=5):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.client is not None:
            self.client.close()

    close = stop


def publish_as(port, topic, payload, client_id=None, qos=1, v5=False, retain=False):
    """Connect, publish one message (waiting for its ack), disconnect."""
    c = Client(port, client_id=client_id, v5=v5)
    try:
        c.publish(topic, payload, qos=qos, retain=retain)
    finally:
        c.close()


class Subscriber(Client):
    """Collects messages (topic, payload, qos, retain) on the given filters."""

    def __init__(self, port, topics, qos=1, v5=True, client_id=None, username=None, password=None):
        super().__init__(port, client_id=client_id, v5=v5, username=username, password=password)
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self.granted = self.subscribe(self.topics, qos=qos)

    def on(self, topic):
        return [m for m in self.messages() if m.topic == topic]


# ----------------------------------------------------------------- raw MQTT 3.1.1

def _rl(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def _s(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack("!H", len(b)) + b


class RawClient:
    """Minimal MQTT 3.1.1 client on a plain socket, for packets paho will not send
    (e.g. a DUP retransmission without PUBREL)."""

    def __init__(self, port, client_id, clean=True, keepalive=60):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        vh = _s("MQTT") + bytes([4, 0x02 if clean else 0x00]) + struct.pack("!H", keepalive)
        body = vh + _s(client_id)
        self.send_packet(0x10, body)
        t, b = self.read_packet()
        assert t == 0x20 and b[1] == 0, "CONNACK %x %r" % (t, b)

    def send_packet(self, first, body):
        self.sock.sendall(bytes([first]) + _rl(len(body)) + body)

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by broker")
            buf += chunk
        return buf

    def read_packet(self):
        first = self._recv(1)[0]
        mult, n = 1, 0
        while True:
            b = self._recv(1)[0]
            n += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        return first & 0xF0, self._recv(n) if n else b""

    def publish(self, topic, payload, qos=0, mid=None, dup=False, retain=False):
        first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
        body = _s(topic)
        if qos:
            body += struct.pack("!H", mid)
        body += encode(payload)
        self.send_packet(first, body)

    def expect(self, ptype, mid=None):
        t, b = self.read_packet()
        assert t == ptype, "expected packet type %#x, got %#x (%r)" % (ptype, t, b)
        if mid is not None:
            assert struct.unpack("!H", b[:2])[0] == mid, "mid %r" % b
        return b

    def pubrel(self, mid):
        self.send_packet(0x62, struct.pack("!H", mid))

    def disconnect(self):
        try:
            self.send_packet(0xE0, b"")
        finally:
            self.sock.close()


def now_ms():
    return int(time.time() * 1000)


def assert_ts(v, lo, hi=None, name="timestamp"):
    """An epoch-ms integer between lo-1000 and hi+1000 (hi defaults to now)."""
    hi = now_ms() if hi is None else hi
    assert isinstance(v, int) and not isinstance(v, bool), "%s %r is not an integer" % (name, v)
    assert lo - 1000 <= v <= hi + 1000, "%s %r not within [%d, %d]" % (name, v, lo, hi)
    return v


def nested(depth, leaf=1):
    """{"l1": {"l2": ... leaf}} with `depth` objects."""
    v = leaf
    for i in range(depth, 0, -1):
        v = {"l%d" % i: v}
    return v


def sleep_ms_tick(ms=3):
    """Let the epoch-ms clock advance (timestamps must be able to differ)."""
    t = now_ms()
    while now_ms() < t + ms:
        time.sleep(0.001)
