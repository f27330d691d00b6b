"""desired / delta and the devices/{id}/desired message (QoS 1, retained while the
delta is not empty, cleared when it empties)."""
from clients import Device, Subscriber, parse_json, publish_as, uniq


def dtopic(tid):
    return "devices/%s/desired" % tid


def retained_desired(port, tid):
    """What a subscriber that connects now receives on devices/{id}/desired."""
    late = Subscriber(port, dtopic(tid))
    try:
        late.sync()
        return [(m.payload, m.retain) for m in late.on(dtopic(tid))]
    finally:
        late.close()


def next_desired(dev, tid, desc="desired message"):
    return dev.get(lambda m: m.topic == dtopic(tid), desc=desc)


def test_readme_flow_delta_message_retained_then_cleared(broker, rr5):
    tid = uniq("des-flow")
    dev = Device(broker.port, tid)
    try:
        dev.subscribe(dtopic(tid), qos=1)
        dev.telemetry({"fanSpeed": 2, "temp": 20})
        a = rr5.update(tid, {"desired": {"fanSpeed": 3}, "token": "op-1"})
        assert a.status == 200
        assert a.body["delta"] == {"fanSpeed": 3} and a.body["token"] == "op-1"

        m = next_desired(dev, tid)
        assert m.qos == 1
        body = parse_json(m.payload)
        assert body == {"id": tid, "version": a.body["version"], "delta": {"fanSpeed": 3}}

        t = rr5.twin(tid)
        assert t["desired"] == {"fanSpeed": 3} and t["delta"] == {"fanSpeed": 3}
        assert t["version"] == a.body["version"] == 2

        # a subscriber that connects later gets it, retained
        late = retained_desired(broker.port, tid)
        assert len(late) == 1 and late[0][1] is True
        assert parse_json(late[0][0]) == body

        # the device reports the new speed: delta empties, retained message cleared
        dev.telemetry({"fanSpeed": 3})
        m = next_desired(dev, tid, desc="empty (clearing) desired message")
        assert m.payload == b""
        t = rr5.twin(tid)
        assert t.get("delta", {}) == {}
        assert retained_desired(broker.port, tid) == []
    finally:
        dev.close()


def test_partial_match_republishes_smaller_delta(broker, rr5):
    tid = uniq("des-partial")
    dev = Device(broker.port, tid)
    try:
        dev.subscribe(dtopic(tid), qos=1)
        a = rr5.update(tid, {"desired": {"a": 1, "b": 2, "cfg": {"x": 1, "y": 2}}})
        assert a.body["delta"] == {"a": 1, "b": 2, "cfg": {"x": 1, "y": 2}}
        m1 = parse_json(next_desired(dev, tid).payload)
        assert m1["delta"] == a.body["delta"]
        dev.telemetry({"a": 1, "cfg": {"x": 1}, "extra": 5})
        m2 = parse_json(next_desired(dev, tid).payload)
        t = rr5.twin(tid)
        assert m2 == {"id": tid, "version": t["version"], "delta": {"b": 2, "cfg": {"y": 2}}}
        assert t["delta"] == {"b": 2, "cfg": {"y": 2}}
        late = retained_desired(broker.port, tid)
        assert [(parse_json(p), r) for p, r in late] == [(m2, True)]
    finally:
        dev.close()


def test_type_difference_is_a_delta(broker, rr5):
    tid = uniq("des-type")
    publish_as(broker.port, f"devices/{tid}/telemetry", {"a": "1", "b": [1, 2], "c": 1.0},
               client_id=uniq("p"))
    a = rr5.update(tid, {"desired": {"a": 1, "b": [1, 2], "c": 1}})
    # "1" != 1 ; equal arrays and equal numbers are not a delta
    assert a.body["delta"] == {"a": 1}


def test_desired_removal_clears_message(broker, rr5):
    tid = uniq("des-null")
    dev = Device(broker.port, tid)
    try:
        dev.subscribe(dtopic(tid), qos=1)
        rr5.ok(f"$twin/{tid}/update", {"desired": {"a": 1, "b": 2}})
        next_desired(dev, tid)
        body = rr5.ok(f"$twin/{tid}/update", {"desired": {"a": None}})
        assert body["desired"] == {"b": 2} and body["delta"] == {"b": 2}
        assert parse_json(next_desired(dev, tid).payload)["delta"] == {"b": 2}
        body = rr5.ok(f"$twin/{tid}/update", {"desired": {"b": None}})
        assert body["delta"] == {}
        assert next_desired(dev, tid).payload == b""
        assert retained_desired(broker.port, tid) == []
        t = rr5.twin(tid)
        assert t.get("desired", {}) == {} and t.get("delta", {}) == {}
        assert "a" not in t.get("metadata", {}).get("desired", {})
    finally:
        dev.close()


def test_unchanged_desired_emits_nothing(broker, rr5):
    tid = uniq("des-same")
    dev = Device(broker.port, tid)
    try:
        dev.subscribe(dtopic(tid), qos=1)
        a1 = rr5.update(tid, {"desired": {"a": 1}})
        next_desired(dev, tid)
        a2 = rr5.update(tid, {"desired": {"a": 1}})
        assert a2.body["version"] == a1.body["version"]
        # a change of attributes or of unrelated reported keys does not change the delta
        rr5.ok(f"$twin/{tid}/update", {"attributes": {"z": 1}})
        dev.telemetry({"other": 1})
        rr5.twin(tid)
        dev.sync()
        assert len(dev.messages(dtopic(tid))) == 1, dev.messages(dtopic(tid))
    finally:
        dev.close()


def test_device_reconnecting_gets_retained_delta(broker, rr5):
    tid = uniq("des-recon")
    a = rr5.update(tid, {"desired": {"led": "on"}})
    dev = Device(broker.port, tid)
    try:
        dev.subscribe(dtopic(tid), qos=1)
        m = next_desired(dev, tid)
        assert m.retain is True
        assert parse_json(m.payload) == {"id": tid, "version": a.body["version"],
                                         "delta": {"led": "on"}}
    finally:
        dev.close()


def test_delete_clears_retained_desired(broker, rr5):
    tid = uniq("des-del")
    rr5.ok(f"$twin/{tid}/update", {"desired": {"a": 1}})
    assert len(retained_desired(broker.port, tid)) == 1
    watcher = Subscriber(broker.port, dtopic(tid))
    try:
        watcher.get(lambda m: m.topic == dtopic(tid))      # the retained one
        assert rr5.delete(tid).status == 200
        m = watcher.get(lambda m: m.topic == dtopic(tid), desc="clearing message")
        assert m.payload == b""
    finally:
        watcher.close()
    assert retained_desired(broker.port, tid) == []


def test_desired_message_reaches_plain_subscribers(broker, rr5):
    """Not only the device: any subscriber of devices/+/desired sees the delta."""
    tid = uniq("des-any")
    sub = Subscriber(broker.port, "devices/+/desired")
    try:
        a = rr5.update(tid, {"desired": {"k": "v"}})
        m = sub.get(lambda m: m.topic == dtopic(tid))
        assert m.qos == 1
        assert parse_json(m.payload) == {"id": tid, "version": a.body["version"],
                                         "delta": {"k": "v"}}
    finally:
        sub.close()


def test_metadata_desired_ts_and_delta_in_get(broker, rr5):
    tid = uniq("des-meta")
    rr5.ok(f"$twin/{tid}/update", {"desired": {"fan": {"speed": 3}}})
    t = rr5.twin(tid)
    assert t["delta"] == {"fan": {"speed": 3}}
    assert set(t["metadata"]["desired"]["fan"]["speed"]) == {"ts"}
