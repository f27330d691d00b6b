"""Device telemetry on devices/{id}/telemetry: twin creation, RFC 7396 merge, per-leaf
metadata, version/lastSeen, presence, pass-through to subscribers, invalid payloads,
QoS 2 retransmissions."""
import time

from clients import (Client, Device, RawClient, Requester5, Subscriber, assert_ts, nested,
                     now_ms, publish_as, sleep_ms_tick, uniq, wait_until)

PUBREC, PUBCOMP = 0x50, 0x70


def tel(tid):
    return "devices/%s/telemetry" % tid


def test_first_telemetry_creates_twin(broker, rr5):
    tid = uniq("tel-create")
    assert rr5.get(tid).status == 404
    t0 = now_ms()
    publish_as(broker.port, tel(tid), {"temp": 21.5, "hum": 40}, client_id=uniq("pub"))
    t = rr5.twin(tid)
    assert t["id"] == tid
    assert t["reported"] == {"temp": 21.5, "hum": 40}
    assert t["version"] == 1
    assert t["versions"]["reported"] == 1
    created = assert_ts(t["created"], t0, name="created")
    assert_ts(t["updated"], t0, name="updated")
    assert_ts(t["lastSeen"], t0, name="lastSeen")
    assert t["updated"] == created
    assert set(t["metadata"]["reported"]) == {"temp", "hum"}
    for leaf in ("temp", "hum"):
        assert_ts(t["metadata"]["reported"][leaf]["ts"], t0, name="metadata ts")


def test_merge_patch_nested_null_arrays(broker, rr5):
    tid = uniq("tel-merge")
    d = Device(broker.port, tid)
    try:
        d.telemetry({"a": {"x": 1, "y": 2}, "arr": [1, 2, 3], "s": "keep", "gone": True,
                     "obj": {"k": 1}})
        rr5.twin(tid)  # applied before the next one: two changes
        d.telemetry({"a": {"y": None, "z": {"deep": 3}}, "arr": [4], "gone": None,
                     "obj": [9]})
        t = rr5.twin(tid)
    finally:
        d.close()
    assert t["reported"] == {"a": {"x": 1, "z": {"deep": 3}}, "arr": [4], "s": "keep",
                             "obj": [9]}
    assert t["version"] == 2
    md = t["metadata"]["reported"]
    assert set(md) == {"a", "arr", "s", "obj"}, md
    assert set(md["a"]) == {"x", "z"}, md["a"]
    assert set(md["a"]["z"]) == {"deep"}
    assert set(md["a"]["z"]["deep"]) == {"ts"}
    # arrays are leaves: one ts, no per-element entries
    assert set(md["arr"]) == {"ts"}
    assert set(md["obj"]) == {"ts"}


def test_object_replaces_scalar_and_scalar_replaces_object(broker, rr5):
    tid = uniq("tel-replace")
    d = Device(broker.port, tid)
    try:
        d.telemetry({"a": 1, "b": {"c": 1}})
        rr5.twin(tid)  # applied (a get waits for it) before the next one: two changes
        d.telemetry({"a": {"n": 2}, "b": 7})
        t = rr5.twin(tid)
    finally:
        d.close()
    assert t["reported"] == {"a": {"n": 2}, "b": 7}
    assert t["version"] == 2
    assert set(t["metadata"]["reported"]["a"]) == {"n"}
    assert set(t["metadata"]["reported"]["b"]) == {"ts"}


def test_metadata_ts_per_leaf(broker, rr5):
    tid = uniq("tel-meta")
    d = Device(broker.port, tid)
    try:
        d.telemetry({"a": 1, "b": {"c": 2, "e": 3}, "arr": [1, 2]})
        t1 = rr5.twin(tid)
        sleep_ms_tick(5)
        t_mid = now_ms()
        d.telemetry({"a": 5, "b": {"c": 2}})       # a changes, b.c is the same value
        t2 = rr5.twin(tid)
    finally:
        d.close()
    m1, m2 = t1["metadata"]["reported"], t2["metadata"]["reported"]
    assert m2["a"]["ts"] > m1["a"]["ts"]
    assert m2["a"]["ts"] >= t_mid
    assert m2["b"]["c"]["ts"] == m1["b"]["c"]["ts"]
    assert m2["b"]["e"]["ts"] == m1["b"]["e"]["ts"]
    assert m2["arr"] == m1["arr"]
    assert t2["version"] == t1["version"] + 1
    assert abs(t2["updated"] - m2["a"]["ts"]) <= 2
    assert t2["created"] == t1["created"]


def test_version_bumps_once_per_change(broker, rr5):
    tid = uniq("tel-ver")
    d = Device(broker.port, tid)
    try:
        versions = []
        for i in range(5):
            d.telemetry({"n": i})
            versions.append(rr5.twin(tid)["version"])
    finally:
        d.close()
    assert versions == [1, 2, 3, 4, 5]


def test_unchanged_telemetry_does_not_bump_but_refreshes_last_seen(broker, rr5):
    tid = uniq("tel-same")
    d = Device(broker.port, tid)
    try:
        d.telemetry({"v": 1, "n": {"k": "x"}, "arr": [1, 2]})
        t1 = rr5.twin(tid)
        s1 = rr5.stats()
        sleep_ms_tick(5)
        d.telemetry({"v": 1, "n": {"k": "x"}, "arr": [1, 2]})   # same values again
        d.telemetry({"n": {"k": "x"}})                          # a subset, same values
        d.telemetry({"absent": None})                           # removing a missing key
        t2 = rr5.twin(tid)
        s2 = rr5.stats()
    finally:
        d.close()
    assert t2["version"] == t1["version"] == 1
    assert t2["reported"] == t1["reported"]
    assert t2["metadata"] == t1["metadata"]
    assert t2["updated"] == t1["updated"]
    assert t2["versions"] == t1["versions"]
    assert t2["lastSeen"] > t1["lastSeen"]
    assert s2["telemetry_received"] - s1["telemetry_received"] == 3
    assert s2["telemetry_unchanged"] - s1["telemetry_unchanged"] == 3
    assert s2["telemetry_applied"] - s1["telemetry_applied"] == 0


def test_numbers_are_values(broker, rr5):
    tid = uniq("tel-num")
    publish_as(broker.port, tel(tid), b'{"t":21.30,"i":7,"neg":-0.5,"e":1e3}', client_id=tid)
    a = rr5.get(tid)
    assert a.status == 200
    assert a.body["reported"] == {"t": 21.3, "i": 7, "neg": -0.5, "e": 1000}
    assert b"21.30" not in a.raw


def test_connected_follows_device_presence(broker, rr5):
    tid = uniq("tel-presence")
    d = Device(broker.port, tid)
    t0 = now_ms()
    d.telemetry({"x": 1})
    t = rr5.twin(tid)
    assert t["connected"] is True
    last_seen = t["lastSeen"]
    assert_ts(last_seen, t0)
    d.disconnect()
    t = wait_until(lambda: (lambda b: b if b.get("connected") is False else None)(rr5.twin(tid)),
                   msg="connected to turn false after the device disconnected")
    assert t["lastSeen"] == last_seen
    assert t["version"] == 1          # presence is not a change of the twin


def test_connected_true_again_after_reconnect_and_publish(broker, rr5):
    tid = uniq("tel-recon")
    d = Device(broker.port, tid, v5=True)
    d.telemetry({"x": 1})
    assert rr5.twin(tid)["connected"] is True
    d.disconnect()
    wait_until(lambda: rr5.twin(tid).get("connected") is False, msg="connected false")
    d = Device(broker.port, tid, v5=True)
    try:
        d.telemetry({"x": 2})
        assert rr5.twin(tid)["connected"] is True
    finally:
        d.close()


def test_telemetry_from_other_client_id_is_not_presence(broker, rr5):
    tid = uniq("tel-other")
    other = Client(broker.port, client_id=uniq("not-the-device"))
    try:
        other.publish(tel(tid), {"x": 1}, qos=1)
        t = rr5.twin(tid)
        assert t["reported"] == {"x": 1}
        assert t["connected"] is False
    finally:
        other.close()


def test_abrupt_device_loss_turns_connected_false(broker, rr5):
    tid = uniq("tel-abrupt")
    raw = RawClient(broker.port, tid)
    raw.publish(tel(tid), b'{"x":1}', qos=0)
    wait_until(lambda: rr5.get(tid).status == 200, msg="twin created")
    assert rr5.twin(tid)["connected"] is True
    raw.sock.close()                 # no DISCONNECT packet
    wait_until(lambda: rr5.twin(tid).get("connected") is False, msg="connected false")


def test_telemetry_delivered_byte_for_byte(broker, rr5):
    tid = uniq("tel-pass")
    sub = Subscriber(broker.port, "devices/+/telemetry")
    d = Device(broker.port, tid)
    payloads = [
        b'{ "a" :  1.50 , "b":[1, 2] }',
        b'hello \x00\xff binary',
        b'[1,2,3]',
        b'',
        b'{"a":1} trailing',
        b'"just a string"',
        b'{"big":"' + b"x" * 70000 + b'"}',
        ("{\"unicode\":\"\u00e9\u2603\"}").encode(),
    ]
    try:
        for p in payloads:
            d.telemetry(p)
        got = [sub.get(lambda m: m.topic == tel(tid), desc="telemetry copy").payload
               for _ in payloads]
        sub.sync()
    finally:
        d.close()
        sub.close()
    assert got == payloads
    assert len(sub.on(tel(tid))) == len(payloads)
    t = rr5.twin(tid)
    assert t["reported"] == {"a": 1.5, "b": [1, 2], "unicode": "\u00e9\u2603"}
    assert t["version"] in (1, 2)  # two valid messages, one version if they waited together


def test_retained_telemetry_stays_retained(broker, rr5):
    tid = uniq("tel-ret")
    body = b'{"r": 1}'
    publish_as(broker.port, tel(tid), body, client_id=tid, retain=True)
    late = Subscriber(broker.port, tel(tid))
    try:
        late.sync()
        msgs = late.on(tel(tid))
        assert [(m.payload, m.retain) for m in msgs] == [(body, True)]
    finally:
        late.close()
        publish_as(broker.port, tel(tid), b"", client_id=tid, retain=True)
    assert rr5.twin(tid)["reported"] == {"r": 1}


def test_invalid_telemetry_leaves_twin_untouched_and_is_counted(broker, rr5):
    tid = uniq("tel-bad")
    d = Device(broker.port, tid)
    bad = [b"[1,2]", b'"s"', b"42", b"null", b"true", b"not json", b'{"a":1} x',
           b'{"a":', b"", b"\xff\xfe", b'{"a":1}{"b":2}']
    too_big = ('{"blob":"%s"}' % ("x" * 70000)).encode()
    too_deep = nested(40)
    try:
        d.telemetry({"ok": 1})
        t1 = rr5.twin(tid)
        s1 = rr5.stats()
        for p in bad:
            d.telemetry(p)
        d.telemetry(too_big)
        d.telemetry(too_deep)
        t2 = rr5.twin(tid)
        s2 = rr5.stats()
    finally:
        d.close()
    ignore = ("lastSeen", "connected")
    assert {k: v for k, v in t2.items() if k not in ignore} == \
        {k: v for k, v in t1.items() if k not in ignore}
    n = len(bad) + 2
    assert s2["telemetry_invalid"] - s1["telemetry_invalid"] == n
    assert s2["telemetry_received"] - s1["telemetry_received"] == n
    assert s2["telemetry_applied"] - s1["telemetry_applied"] == 0
    assert broker.running


def test_invalid_telemetry_does_not_create_twin(broker, rr5):
    tid = uniq("tel-bad-new")
    d = Device(broker.port, tid)
    try:
        for p in (b"[1]", b"garbage", b"", nested(40)):
            d.telemetry(p)
        assert rr5.get(tid).status == 404
    finally:
        d.close()


def test_moderately_deep_telemetry_is_accepted(broker, rr5):
    tid = uniq("tel-deep-ok")
    publish_as(broker.port, tel(tid), nested(8), client_id=tid)
    assert rr5.twin(tid)["reported"] == nested(8)


def test_qos2_retransmission_counts_once(broker, rr5):
    tid = uniq("tel-qos2")
    sub = Subscriber(broker.port, tel(tid), qos=2)
    raw = RawClient(broker.port, tid)
    try:
        raw.publish(tel(tid), b'{"q":0}', qos=0)
        wait_until(lambda: rr5.get(tid).status == 200, msg="twin created")
        t1 = rr5.twin(tid)
        s1 = rr5.stats()
        body = b'{"q":1,"n":{"m":2}}'
        raw.publish(tel(tid), body, qos=2, mid=7)
        raw.expect(PUBREC, 7)
        t2 = rr5.twin(tid)
        raw.publish(tel(tid), body, qos=2, mid=7, dup=True)   # retransmission, no PUBREL
        raw.expect(PUBREC, 7)
        t3 = rr5.twin(tid)
        raw.pubrel(7)
        raw.expect(PUBCOMP, 7)
        t4 = rr5.twin(tid)
        s2 = rr5.stats()
        sub.sync()
        copies = [m.payload for m in sub.on(tel(tid))]
    finally:
        raw.disconnect()
        sub.close()
    assert t1["version"] == 1
    assert t2["version"] == 2
    assert t2["reported"] == {"q": 1, "n": {"m": 2}}
    assert t3["version"] == 2 and t4["version"] == 2
    assert t4["metadata"] == t2["metadata"]
    assert t4["updated"] == t2["updated"]
    assert s2["telemetry_applied"] - s1["telemetry_applied"] == 1
    assert copies.count(body) == 1, copies


def test_qos1_duplicate_does_not_bump(broker, rr5):
    tid = uniq("tel-qos1dup")
    raw = RawClient(broker.port, tid)
    try:
        body = b'{"a":1}'
        raw.publish(tel(tid), body, qos=1, mid=3)
        raw.expect(0x40, 3)
        raw.publish(tel(tid), body, qos=1, mid=3, dup=True)
        raw.expect(0x40, 3)
        t = rr5.twin(tid)
    finally:
        raw.disconnect()
    assert t["version"] == 1
    assert t["reported"] == {"a": 1}


def test_read_your_writes_same_connection(broker, rr5):
    """Telemetry sent at QoS 0 on the requester's own connection is visible to the get
    that follows it on that connection."""
    tid = uniq("tel-ryw")
    for i in range(50):
        rr5.client.publish(tel(tid), {"n": i, "i%d" % (i % 5): i}, qos=0)
    t = rr5.twin(tid)
    assert t["reported"] == {"n": 49, "i0": 45, "i1": 46, "i2": 47, "i3": 48, "i4": 49}
    assert 1 <= t["version"] <= 50  # messages that waited together are one version


def test_read_does_not_wait_behind_a_telemetry_backlog(brokers):
    """With more than 256 operations queued (the writer is behind), a get answers at once from the
    committed twin instead of waiting for the backlog; with a short queue it waits (read-your-writes).
    A 60 s commit interval keeps telemetry queued: only a request or a waiting get commits it."""
    b = brokers({"commit_interval_ms": 60000})
    rr = brokers.track(Requester5(b.port))
    tid = uniq("tel-backlog")
    assert rr.update(tid, {"attributes": {"site": "a"}}).status == 200
    c = brokers.track(Client(b.port))
    for i in range(400):
        c.publish(tel("%s-other-%03d" % (tid, i)), {"n": i}, qos=0)
    c.publish(tel(tid), {"n": 1}, qos=1)                 # PUBACKed: queued behind 400 others
    t0 = time.monotonic()
    t = rr.twin(tid)
    assert time.monotonic() - t0 < 5, "the get waited for the backlog"
    assert t["reported"] == {}, "answered from the committed state, without the queued telemetry"
    assert t["version"] == 1
    # a request commits the whole queue; then a short queue is waited for again
    assert rr.update(tid, {"attributes": {"site": "b"}}).status == 200
    c.publish(tel(tid), {"n": 2}, qos=1)
    t = rr.twin(tid)
    assert t["reported"] == {"n": 2}
