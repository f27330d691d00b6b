"""Flexible ingest: several telemetry patterns at once, '#' sub-paths carrying bare values,
ThingsBoard-style readings whose device ts is honoured in metadata/updated, twin ids from
the client id or the username, and ThingsBoard-gateway batches carrying several devices
(plus invalid batches: counted, never a crash). One broker for the module, configured with
repeated plugin_opt_telemetry_topic lines; the username case has a broker of its own."""
import json

import pytest

from broker import Broker
from clients import (Client, Requester5, Subscriber, assert_ts, nested, now_ms, parse_json,
                     publish_as, uniq, wait_until)

PATTERNS = ["devices/+/telemetry/#", "plant/+/state", "v1/devices/me/telemetry"]
GATEWAY = "v1/gateway/telemetry"
EVENTS = "$twin/+/events"


@pytest.fixture(scope="module")
def ingest():
    b = Broker(opts={"gateway_topic": GATEWAY},
               extra_conf=["plugin_opt_telemetry_topic %s" % p for p in PATTERNS],
               name="ingest broker")
    b.start()
    r = Requester5(b.port)
    yield b, r
    r.close()
    b.close()


def stats_after(r, name, at_least):
    return wait_until(lambda: r.stats()[name] >= at_least and r.stats(),
                      msg="%s >= %d" % (name, at_least))


def events_of(sub, tid, n):
    topic = f"$twin/{tid}/events"
    wait_until(lambda: len(sub.messages(topic)) >= n, msg="%d events on %s" % (n, topic))
    sub.sync()
    return [parse_json(m.payload) for m in sub.messages(topic)]


def test_patterns_are_all_ingested_in_config_order(ingest):
    b, r = ingest
    assert "telemetry_topic=devices/+/telemetry/#,plant/+/state,v1/devices/me/telemetry" \
        in b.log_text()
    plain, machine, tb = uniq("in-plain"), uniq("in-m"), uniq("in-tb")
    sub = Subscriber(b.port, "#")
    try:
        publish_as(b.port, f"devices/{plain}/telemetry", {"t": 1}, client_id=uniq("x"))
        publish_as(b.port, f"plant/{machine}/state", {"running": True}, client_id=uniq("x"))
        publish_as(b.port, "v1/devices/me/telemetry", {"temperature": 25}, client_id=tb)
        publish_as(b.port, f"plant/{machine}/other", {"no": 1}, client_id=uniq("x"))
        assert r.twin(plain)["reported"] == {"t": 1}
        assert r.twin(machine)["reported"] == {"running": True}
        t = r.twin(tb)
        assert t["reported"] == {"temperature": 25}
        sub.sync()
        # every message still reaches subscribers, unchanged
        got = {m.topic: m.payload for m in sub.messages() if not m.topic.startswith("sync/")}
        assert got[f"devices/{plain}/telemetry"] == b'{"t": 1}'
        assert got[f"plant/{machine}/state"] == b'{"running": true}'
        assert got["v1/devices/me/telemetry"] == b'{"temperature": 25}'
    finally:
        sub.close()


def test_sub_path_topics_set_values_inside_reported(ingest):
    b, r = ingest
    tid = uniq("in-sub")
    dev = Client(b.port, client_id=tid, v5=False)
    try:
        base = f"devices/{tid}/telemetry"
        for topic, value in ((base + "/top/temp", b"24.5"), (base + "/top/hum", b"40"),
                             (base + "/fw", b'"1.2.3"'), (base + "/door/open", b"false"),
                             (base, {"plain": 1})):          # '#' matches no level too
            dev.publish(topic, value, qos=1)
            t = r.twin(tid)  # applied before the next one: a change each
        assert t["reported"] == {"top": {"temp": 24.5, "hum": 40}, "fw": "1.2.3",
                                 "door": {"open": False}, "plain": 1}
        assert set(t["metadata"]["reported"]["top"]) == {"temp", "hum"}
        assert t["version"] == 5
        assert t["connected"] is True
        invalid = r.stats()["telemetry_invalid"]
        dev.publish(base + "/top/temp", b"null", qos=1)   # null removes the leaf
        dev.publish(base + "//x", b"1", qos=1)             # an empty level: refused
        dev.publish(base + "/x", b"not json", qos=1)
        stats_after(r, "telemetry_invalid", invalid + 2)
        t = r.twin(tid)
        assert t["reported"]["top"] == {"hum": 40}
        assert "x" not in t["reported"] and "" not in t["reported"]
    finally:
        dev.close()


def test_thingsboard_readings_keep_their_device_ts(ingest):
    b, r = ingest
    tid = uniq("in-ts")
    sub = Subscriber(b.port, EVENTS)
    dev = Client(b.port, client_id=tid, v5=False)
    try:
        now = now_ms()
        t1, t2 = now - 60000, now - 30000
        dev.publish("v1/devices/me/telemetry",
                    [{"ts": t1, "values": {"temp": 20, "hum": 50}},
                     {"ts": t2, "values": {"temp": 21}}], qos=1)
        t = r.twin(tid)
        assert t["reported"] == {"temp": 21, "hum": 50}
        assert t["version"] == 1  # one message, one change, whatever its readings
        assert t["created"] == t1 and t["updated"] == t2
        assert t["metadata"]["reported"]["temp"] == {"ts": t2}
        assert t["metadata"]["reported"]["hum"] == {"ts": t1}
        assert_ts(t["lastSeen"], now, name="lastSeen")      # the arrival, not a device ts
        evs = events_of(sub, tid, 1)
        assert [(e["version"], e["ts"], e["type"], e["reported"]) for e in evs] == \
            [(1, t2, "created", {"temp": 21, "hum": 50})]
        # one object with a ts, then a plain one (arrival time)
        dev.publish("v1/devices/me/telemetry", {"ts": now - 1000, "values": {"hum": 55}}, qos=1)
        dev.publish("v1/devices/me/telemetry", {"volt": 3.3}, qos=1)
        t = r.twin(tid)
        assert t["metadata"]["reported"]["hum"] == {"ts": now - 1000}
        assert_ts(t["metadata"]["reported"]["volt"]["ts"], now, name="plain reading ts")
        # seconds instead of ms, more than a day ahead, values not an object: refused whole
        invalid = r.stats()["telemetry_invalid"]
        for bad in ({"ts": now // 1000, "values": {"temp": 99}},
                    {"ts": now + 2 * 86400000, "values": {"temp": 99}},
                    [{"ts": now, "values": {"temp": 99}}, {"ts": now, "values": 5}]):
            dev.publish("v1/devices/me/telemetry", bad, qos=1)
        stats_after(r, "telemetry_invalid", invalid + 3)
        assert r.twin(tid)["reported"]["temp"] == 21
        wait_until(lambda: len([e for e in events_of(sub, tid, 1) if e["type"] == "error"]) >= 3,
                   msg="3 error events")
        errors = [e for e in events_of(sub, tid, 1) if e["type"] == "error"]
        assert len(errors) == 3
        assert "seconds instead of milliseconds" in errors[0]["error"]
        assert "a day ahead" in errors[1]["error"]
        assert "reading 2: values is not a JSON object" in errors[2]["error"]
    finally:
        dev.close()
        sub.close()


def test_sub_path_reading_with_ts(ingest):
    b, r = ingest
    tid = uniq("in-subts")
    ts = now_ms() - 5000
    publish_as(b.port, f"devices/{tid}/telemetry/pump/rpm", {"ts": ts, "values": 1450},
               client_id=tid)
    t = r.twin(tid)
    assert t["reported"] == {"pump": {"rpm": 1450}}
    assert t["metadata"]["reported"]["pump"]["rpm"] == {"ts": ts}
    assert t["updated"] == ts


def test_gateway_batch_creates_a_twin_per_device(ingest):
    b, r = ingest
    a, c = uniq("in-gw-a"), uniq("in-gw-c")
    spaced = "Device " + uniq("B")
    sub = Subscriber(b.port, [EVENTS, GATEWAY])
    gw = Client(b.port, client_id=uniq("gateway"), v5=False)
    try:
        now = now_ms()
        batch = {a: [{"ts": now - 2000, "values": {"temp": 41}},
                     {"ts": now - 1000, "values": {"temp": 42}}],
                 spaced: {"on": True},
                 c: {"ts": now - 500, "values": {"level": 7}}}
        payload = json.dumps(batch).encode()
        gw.publish(GATEWAY, payload, qos=1)
        # read-your-writes: the gateway message is in these twins before the get is answered
        ta = r.twin(a)
        assert ta["reported"] == {"temp": 42} and ta["version"] == 1  # its two readings: one change
        assert ta["updated"] == now - 1000
        tb = r.twin(spaced)
        assert tb["reported"] == {"on": True}
        assert_ts(tb["updated"], now, name="plain part updated")
        assert r.twin(c)["metadata"]["reported"]["level"] == {"ts": now - 500}
        assert ta["connected"] is False     # the gateway is not the device
        assert [e["version"] for e in events_of(sub, a, 1)] == [1]
        assert len(events_of(sub, spaced, 1)) == 1
        # the batch itself reaches subscribers unchanged
        assert [m.payload for m in sub.messages(GATEWAY)] == [payload]
    finally:
        gw.close()
        sub.close()


def test_invalid_gateway_payloads_are_counted_and_harmless(ingest):
    b, r = ingest
    good, partial = uniq("in-gw-ok"), uniq("in-gw-part")
    gw = Client(b.port, client_id=uniq("gateway"), v5=False)
    try:
        invalid = r.stats()["telemetry_invalid"]
        bad = [b"not json", b"[1,2]", b"42", b"", b'"text"',
               json.dumps({"a": nested(30)}).encode(),          # too deep
               b'{"x": 1' + b" " * 70000 + b"}",                 # over max_twin_bytes
               json.dumps({"bad/id": {"a": 1}, "": {"a": 1}, "a+b": {"a": 1}}).encode(),
               json.dumps({partial: [1], good + "-x": [{"ts": "now", "values": {}}]}).encode()]
        for p in bad:
            gw.publish(GATEWAY, p, qos=1)
        expected = invalid + 7 + 3 + 2
        s = stats_after(r, "telemetry_invalid", expected)
        assert s["telemetry_invalid"] == expected
        assert r.get(partial).status == 404
        # still working: a valid batch after them
        gw.publish(GATEWAY, {good: {"ok": 1}}, qos=1)
        assert r.twin(good)["reported"] == {"ok": 1}
        assert b.running
    finally:
        gw.close()


def test_twin_id_from_username(brokers):
    # allow_anonymous with a username and no password file: the username is the device's name
    b = brokers({"telemetry_topic": "v1/devices/me/telemetry", "telemetry_id_from": "username"})
    r = brokers.track(Requester5(b.port))
    user = uniq("tb-user")
    dev = brokers.track(Client(b.port, client_id=uniq("random-cid"), v5=False, username=user))
    dev.publish("v1/devices/me/telemetry", {"temperature": 19}, qos=1)
    t = r.twin(user)
    assert t["reported"] == {"temperature": 19}
    assert t["connected"] is True, "connected follows the client with that username"
    dev.close()
    wait_until(lambda: r.twin(user)["connected"] is False, msg="connected false after the disconnect")
    invalid = r.stats()["telemetry_invalid"]
    anon = uniq("anon")
    publish_as(b.port, "v1/devices/me/telemetry", {"temperature": 1}, client_id=anon)
    stats_after(r, "telemetry_invalid", invalid + 1)   # no username: no twin id
    assert r.get(anon).status == 404
