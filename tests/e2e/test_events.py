"""$twin/{id}/events: one message per change (created/updated/deleted) with version, ts
and only the changed leaves (null for removed ones), for telemetry and for update
requests, in version order; telemetry of a twin that waited together is one change; no event for a
change of nothing; an error event for
telemetry that cannot be applied; QoS 0, not retained; plugin_opt_events false; the
broker's READ ACL decides who receives them; clients cannot forge them."""
import os

from clients import (Client, Device, Requester5, Subscriber, assert_ts, nested, now_ms,
                     parse_json, uniq, wait_until)

ALL_EVENTS = "$twin/+/events"
# one event per message is checked with hundreds of messages a second from one device, over the
# default telemetry_rate (that limit has its own tests in test_limits.py)
BROKER_OPTS = {"telemetry_rate": 0}


def events_of(sub, tid):
    """Parsed events for one twin, in arrival order."""
    return [parse_json(m.payload) for m in sub.messages(f"$twin/{tid}/events")]


def wait_events(sub, tid, n):
    """Wait until at least n events of tid arrived, then sync (so that any further
    event already on its way has arrived too); returns them all."""
    topic = f"$twin/{tid}/events"
    wait_until(lambda: len(sub.messages(topic)) >= n, msg="%d events on %s" % (n, topic))
    sub.sync()
    return events_of(sub, tid)


def strip(ev):
    """The event without its ts (checked separately)."""
    return {k: v for k, v in ev.items() if k != "ts"}


def test_telemetry_events_carry_only_the_changed_leaves(broker, rr5):
    tid = uniq("ev-tel")
    sub = Subscriber(broker.port, ALL_EVENTS)
    one = Subscriber(broker.port, f"$twin/{tid}/events")
    dev = Device(broker.port, tid)
    try:
        t0 = now_ms()

        def applied(payload, version):
            """Sends one message and waits until it is applied (messages that wait together for the
            writer are one change: here each is to be its own)."""
            dev.telemetry(payload)
            wait_until(lambda: rr5.twin(tid)["lastSeen"] and
                       rr5.stats()["queue_depth"] == 0 and rr5.twin(tid)["version"] == version,
                       msg="version %d" % version)

        applied({"t": 1, "o": {"a": 1, "b": 2}, "arr": [1, 2], "s": "x"}, 1)
        applied({"t": 2}, 2)                                  # one leaf
        applied({"t": 2, "s": "x"}, 2)                        # nothing changes: no event
        applied({"o": {"a": None, "c": True}}, 3)             # nested removal + add
        applied({"arr": [1, 2, 3]}, 4)                        # arrays are leaves
        applied({"s": None, "o": {"b": 2.0}}, 5)              # removal; 2.0 == 2 unchanged
        evs = wait_events(sub, tid, 5)
        t1 = now_ms()
        assert [strip(e) for e in evs] == [
            {"id": tid, "version": 1, "type": "created",
             "reported": {"t": 1, "o": {"a": 1, "b": 2}, "arr": [1, 2], "s": "x"}},
            {"id": tid, "version": 2, "type": "updated", "reported": {"t": 2}},
            {"id": tid, "version": 3, "type": "updated", "reported": {"o": {"a": None, "c": True}}},
            {"id": tid, "version": 4, "type": "updated", "reported": {"arr": [1, 2, 3]}},
            {"id": tid, "version": 5, "type": "updated", "reported": {"s": None}},
        ]
        last = 0
        for e in evs:
            assert_ts(e["ts"], t0, t1, "event ts")
            assert e["ts"] >= last
            last = e["ts"]
        twin = rr5.twin(tid)
        assert twin["version"] == 5
        assert twin["reported"] == {"t": 2, "o": {"b": 2, "c": True}, "arr": [1, 2, 3]}
        # the per-twin subscription got the same messages
        one.sync()
        assert events_of(one, tid) == evs
        for m in sub.messages(f"$twin/{tid}/events"):
            assert m.qos == 0 and not m.retain
    finally:
        dev.close()
        sub.close()
        one.close()


def test_telemetry_that_waited_together_is_one_change(broker, rr5):
    """Messages of one twin that wait for the writer together are applied as one change: one version,
    one event with the last value of each leaf they changed, each leaf stamped with the ts of its own
    last change; the twin ends exactly as if they had been applied one by one."""
    tid = uniq("ev-co")
    sub = Subscriber(broker.port, f"$twin/{tid}/events")
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"base": 0})
        wait_until(lambda: rr5.get(tid).status == 200, msg="the twin")
        # a burst at QoS 0 lands within one commit interval (100 ms)
        for i in range(200):
            dev.telemetry({"seq": i, "even" if i % 2 == 0 else "odd": i}, qos=0)
        wait_until(lambda: rr5.twin(tid)["reported"].get("seq") == 199, msg="the last message applied")
        sub.sync()
        evs = events_of(sub, tid)
        twin = rr5.twin(tid)
        assert twin["reported"] == {"base": 0, "seq": 199, "even": 198, "odd": 199}
        assert twin["version"] == len(evs) < 200, "the burst was not coalesced"
        merged = {}
        for e in evs[1:]:
            merged.update(e["reported"])
        assert merged == {"seq": 199, "even": 198, "odd": 199}
        assert [e["version"] for e in evs] == list(range(1, len(evs) + 1))
        stats = rr5.stats()
        assert stats["telemetry_merged"] > 0
        meta = twin["metadata"]["reported"]
        assert meta["seq"]["ts"] >= meta["even"]["ts"] and meta["seq"]["ts"] >= meta["odd"]["ts"]
        assert meta["base"]["ts"] <= meta["even"]["ts"]
    finally:
        dev.close()
        sub.close()


def test_removing_a_whole_object(broker, rr5):
    """{"o": null} removes the object o: the event says so, either as "o": null or as
    null for each of its leaves (the README does not say which)."""
    tid = uniq("ev-obj")
    sub = Subscriber(broker.port, f"$twin/{tid}/events")
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"o": {"a": 1, "b": {"c": 2}}, "k": 1})
        rr5.twin(tid)  # applied (a get waits for it) before the next one: two changes
        dev.telemetry({"o": None})
        evs = wait_events(sub, tid, 2)
        assert len(evs) == 2
        assert strip(evs[1]) in (
            {"id": tid, "version": 2, "type": "updated", "reported": {"o": None}},
            {"id": tid, "version": 2, "type": "updated",
             "reported": {"o": {"a": None, "b": {"c": None}}}}), evs[1]
    finally:
        dev.close()
        sub.close()


def test_update_request_events(broker, rr5):
    tid = uniq("ev-upd")
    sub = Subscriber(broker.port, ALL_EVENTS)
    try:
        t0 = now_ms()
        a = rr5.ok(f"$twin/{tid}/update", {"desired": {"fan": 3, "cfg": {"x": 1}},
                                           "attributes": {"site": "dc1"}})
        b = rr5.ok(f"$twin/{tid}/update", {"desired": {"fan": 3, "cfg": {"x": None, "y": [1]}},
                                           "attributes": {"site": "dc1"}})
        same = rr5.ok(f"$twin/{tid}/update", {"desired": {"fan": 3}, "attributes": {"site": "dc1"}})
        c = rr5.ok(f"$twin/{tid}/update", {"reported": {"fan": 3}, "attributes": {"row": "B"}})
        d = rr5(f"$twin/{tid}/delete")
        assert d.status == 200
        e = rr5.ok(f"$twin/{tid}/update", {"attributes": {"again": True}})
        evs = wait_events(sub, tid, 5)
        t1 = now_ms()
        assert same["version"] == b["version"], "an update that changes nothing keeps the version"
        assert [strip(x) for x in evs] == [
            {"id": tid, "version": a["version"], "type": "created",
             "attributes": {"site": "dc1"}, "desired": {"fan": 3, "cfg": {"x": 1}}},
            {"id": tid, "version": b["version"], "type": "updated",
             "desired": {"cfg": {"x": None, "y": [1]}}},
            {"id": tid, "version": c["version"], "type": "updated",
             "attributes": {"row": "B"}, "reported": {"fan": 3}},
            {"id": tid, "version": d.body["version"], "type": "deleted"},
            {"id": tid, "version": e["version"], "type": "created", "attributes": {"again": True}},
        ]
        assert [x["version"] for x in evs] == [1, 2, 3, 4, 5]
        for x in evs:
            assert_ts(x["ts"], t0, t1, "event ts")
        # an update's event time is the time of the version it made
        assert evs[2]["ts"] == c["updated"]
    finally:
        sub.close()


def test_events_arrive_in_version_order(broker, rr5):
    tid = uniq("ev-order")
    other = uniq("ev-other")
    sub = Subscriber(broker.port, ALL_EVENTS)
    one = Subscriber(broker.port, f"$twin/{tid}/events")
    c = Client(broker.port)
    try:
        n = 200
        for i in range(n):
            c.publish(f"devices/{tid}/telemetry", {"n": i}, qos=0)
            if i % 3 == 0:
                c.publish(f"devices/{other}/telemetry", {"m": i}, qos=0)
            if i % 50 == 25:
                rr5.ok(f"$twin/{tid}/update", {"desired": {"d": i}})
        c.publish(f"devices/{tid}/telemetry", {"n": n}, qos=1)
        # telemetry that waited together is one change: fewer events than messages, but every version
        # has its event, in order, and the last one carries the last value
        wait_until(lambda: any(parse_json(m.payload).get("reported", {}).get("n") == n
                               for m in sub.messages(f"$twin/{tid}/events")), msg="the last event")
        sub.sync()
        evs = events_of(sub, tid)
        assert [e["version"] for e in evs] == list(range(1, len(evs) + 1)), "not one event per version, in order"
        assert evs[0]["type"] == "created" and all(e["type"] == "updated" for e in evs[1:])
        ns = [e["reported"]["n"] for e in evs if "reported" in e]
        assert ns == sorted(set(ns)) and ns[-1] == n, ns
        assert [e["desired"]["d"] for e in evs if "desired" in e] == [25, 75, 125, 175]
        assert all(set(e) - {"id", "version", "ts", "type"} in ({"reported"}, {"desired"})
                   for e in evs)
        assert [e["ts"] for e in evs] == sorted(e["ts"] for e in evs)
        others = events_of(sub, other)
        assert [e["version"] for e in others] == list(range(1, len(others) + 1))
        assert others[-1]["reported"]["m"] == 198
        one.sync()
        assert events_of(one, tid) == evs
        assert not one.messages(f"$twin/{other}/events"), \
            "a $twin/{id}/events subscription got another twin's events"
    finally:
        c.close()
        sub.close()
        one.close()


def test_unchanged_changes_publish_no_event(broker, rr5):
    tid = uniq("ev-same")
    sub = Subscriber(broker.port, f"$twin/{tid}/events")
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"a": 1, "b": {"c": [1, 2]}})
        rr5.ok(f"$twin/{tid}/update", {"desired": {"x": 1}, "attributes": {"s": "v"}})
        wait_events(sub, tid, 2)
        for _ in range(3):
            dev.telemetry({"a": 1})
            dev.telemetry({"b": {"c": [1, 2]}})
            dev.telemetry({"nosuch": None})
            dev.telemetry({})
            rr5.ok(f"$twin/{tid}/update", {"desired": {"x": 1, "gone": None}})
            rr5.ok(f"$twin/{tid}/update", {"attributes": {"s": "v"}, "reported": {"a": 1}})
        dev.telemetry({"a": 2})               # a real change afterwards
        evs = wait_events(sub, tid, 3)
        assert [strip(e) for e in evs[2:]] == [
            {"id": tid, "version": 3, "type": "updated", "reported": {"a": 2}}]
        assert len(evs) == 3
        assert rr5.twin(tid)["version"] == 3
    finally:
        dev.close()
        sub.close()


def test_invalid_telemetry_makes_an_error_event(broker, rr5):
    tid = uniq("ev-err")
    sub = Subscriber(broker.port, ALL_EVENTS)
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"ok": 1})
        rr5.twin(tid)  # applied before the rest
        t0 = now_ms()
        bad = [b"not json", b"[1,2]", b"42", b'{"a":1} trailing', nested(20)]
        for p in bad:
            dev.telemetry(p)
        dev.telemetry({"ok": 2})
        evs = wait_events(sub, tid, 1 + len(bad) + 1)
        t1 = now_ms()
        assert strip(evs[0]) == {"id": tid, "version": 1, "type": "created", "reported": {"ok": 1}}
        errors = evs[1:-1]
        assert len(errors) == len(bad)
        for e in errors:
            assert set(e) == {"id", "ts", "type", "error"}, e
            assert e["id"] == tid and e["type"] == "error"
            assert isinstance(e["error"], str) and e["error"]
            assert_ts(e["ts"], t0, t1, "error event ts")
        assert "object" in errors[1]["error"] and "object" in errors[2]["error"], errors
        assert "max_depth" in errors[4]["error"] or "deep" in errors[4]["error"], errors[4]
        assert strip(evs[-1]) == {"id": tid, "version": 2, "type": "updated", "reported": {"ok": 2}}
        assert rr5.twin(tid)["reported"] == {"ok": 2}
    finally:
        dev.close()
        sub.close()


def test_too_big_telemetry_makes_an_error_event(broker, rr5):
    """README, Events: telemetry that cannot be applied (not JSON, too big, too deep)
    produces an error event. Too big: the payload itself over max_twin_bytes, or a
    payload that would make the twin grow over it."""
    tid = uniq("ev-big")
    sub = Subscriber(broker.port, f"$twin/{tid}/events")
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"ok": 1})
        rr5.twin(tid)  # applied before the next one: two changes
        dev.telemetry({"a": "x" * 40000})
        wait_events(sub, tid, 2)
        dev.telemetry({"b": "y" * 40000})          # the twin would grow over 64 KiB
        dev.telemetry({"c": "z" * 70000})          # the payload alone is over it
        dev.telemetry({"ok": 2})
        topic = f"$twin/{tid}/events"
        wait_until(lambda: any(parse_json(m.payload).get("reported") == {"ok": 2}
                               for m in sub.messages(topic)), msg="the event of the last telemetry")
        sub.sync()
        evs = events_of(sub, tid)
        kinds = [e["type"] for e in evs]
        assert kinds == ["created", "updated", "error", "error", "updated"], \
            "expected an error event for each too-big telemetry, got %r" % [
                {k: (v if k != "reported" else "...") for k, v in e.items()} for e in evs]
        assert all("version" not in e for e in evs[2:4])
        assert evs[-1]["version"] == 3
    finally:
        dev.close()
        sub.close()


def test_invalid_telemetry_for_a_new_twin(broker, rr5):
    tid = uniq("ev-err-new")
    sub = Subscriber(broker.port, f"$twin/{tid}/events")
    try:
        c = Client(broker.port)
        c.publish(f"devices/{tid}/telemetry", b"{oops", qos=1)
        c.close()
        evs = wait_events(sub, tid, 1)
        assert len(evs) == 1 and evs[0]["type"] == "error" and "version" not in evs[0]
        assert rr5(f"$twin/{tid}/get").status == 404
    finally:
        sub.close()


def test_events_are_not_retained(broker, rr5):
    tid = uniq("ev-ret")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    late = Subscriber(broker.port, [f"$twin/{tid}/events", ALL_EVENTS])
    try:
        late.sync()
        assert not late.messages(f"$twin/{tid}/events")
    finally:
        late.close()


def test_clients_cannot_forge_events(broker, rr5):
    tid = uniq("ev-forge")
    sub = Subscriber(broker.port, [ALL_EVENTS, f"$twin/{tid}/events", "$twin/#"])
    sub311 = Subscriber(broker.port, [ALL_EVENTS], v5=False)
    forger5 = Client(broker.port, v5=True)
    forger311 = Client(broker.port, v5=False)
    try:
        fake = {"id": tid, "version": 1, "ts": now_ms(), "type": "created", "reported": {"x": 1}}
        forger5.publish(f"$twin/{tid}/events", fake, qos=0)
        forger5.publish(f"$twin/{tid}/events", fake, qos=1)
        forger311.publish(f"$twin/{tid}/events", fake, qos=1)
        forger311.publish(f"$twin/{tid}/events", fake, qos=1, retain=True)
        forger311.publish(f"$twin/{tid}/events", fake, qos=2)
        sub.sync()
        sub311.sync()
        assert not sub.messages(f"$twin/{tid}/events"), "a forged event was delivered"
        assert not sub311.messages(f"$twin/{tid}/events"), "a forged event was delivered"
        late = Subscriber(broker.port, f"$twin/{tid}/events")
        try:
            late.sync()
            assert not late.messages(f"$twin/{tid}/events"), "a forged event was retained"
        finally:
            late.close()
        # the twin does not exist: nothing was applied
        assert rr5(f"$twin/{tid}/get").status == 404
        # real events still flow
        rr5.ok(f"$twin/{tid}/update", {"attributes": {"real": 1}})
        evs = wait_events(sub, tid, 1)
        assert strip(evs[0]) == {"id": tid, "version": 1, "type": "created", "attributes": {"real": 1}}
    finally:
        for c in (sub, sub311, forger5, forger311):
            c.close()


# ------------------------------------------------------------------ dedicated brokers

def test_events_false_publishes_none(brokers):
    b = brokers({"events": "false"})
    sub = brokers.track(Subscriber(b.port, [ALL_EVENTS]))
    r = brokers.track(Requester5(b.port))
    tid = uniq("ev-off")
    dev = brokers.track(Device(b.port, tid))
    dev.telemetry({"a": 1})
    r.twin(tid)  # applied before the next one: two changes
    dev.telemetry({"a": 2})
    dev.telemetry(b"not json")
    r.ok(f"$twin/{tid}/update", {"desired": {"x": 1}, "attributes": {"s": 1}})
    assert r(f"$twin/{tid}/delete").status == 200
    r.ok(f"$twin/{tid}/update", {"attributes": {"s": 2}})
    sub.sync()
    assert not [m for m in sub.messages() if m.topic.endswith("/events")], \
        [(m.topic, m.payload) for m in sub.messages()]
    assert r.twin(tid)["version"] == 5


def test_read_acl_decides_who_receives_events(brokers, tmp_path):
    tid, other = uniq("ev-acl"), uniq("ev-acl2")
    acl = tmp_path / "acl"
    acl.write_text("\n".join([
        "# clients without a username: requests and telemetry",
        "topic write $twin/#",
        "topic write devices/#",
        "pattern readwrite sync/%c/#",
        "pattern read replies/%c",
        "",
        "user watcher",
        "topic read $twin/+/events",
        "",
        "user partial",
        "topic read $twin/%s/events" % tid,
        "",
        "user snoop",
        "topic read devices/#",
        "topic read $twin/+/get/accepted",
        "",
    ]))
    os.chmod(acl, 0o644)
    b = brokers(extra_conf=["acl_file %s" % acl])
    watcher = brokers.track(Subscriber(b.port, ALL_EVENTS, username="watcher"))
    watcher311 = brokers.track(Subscriber(b.port, ALL_EVENTS, username="watcher", v5=False))
    partial = brokers.track(Subscriber(b.port, ALL_EVENTS, username="partial"))
    snoop = brokers.track(Subscriber(b.port, [ALL_EVENTS, f"$twin/{tid}/events"], username="snoop"))
    anon = brokers.track(Subscriber(b.port, [ALL_EVENTS]))
    r = brokers.track(Requester5(b.port))
    r.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    r.ok(f"$twin/{other}/update", {"attributes": {"a": 1}})
    c = brokers.track(Client(b.port))
    c.publish(f"devices/{tid}/telemetry", {"t": 1}, qos=1)

    for w in (watcher, watcher311):
        wait_events(w, tid, 2)
        wait_events(w, other, 1)
        assert [parse_json(m.payload)["type"] for m in w.messages(f"$twin/{tid}/events")] == \
            ["created", "updated"]
    wait_events(partial, tid, 2)
    for s in (partial, snoop, anon):
        s.sync()
    assert not partial.messages(f"$twin/{other}/events"), \
        "'partial' may read only %s's events but got %s's" % (tid, other)
    for s, name in ((snoop, "snoop"), (anon, "anonymous")):
        got = [m.topic for m in s.messages() if m.topic.endswith("/events")]
        assert not got, "%s has no READ permission on events but received %r (SUBACK %r)" % (
            name, got, s.granted)
