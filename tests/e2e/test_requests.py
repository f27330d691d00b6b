"""$twin/{id}/get|update|delete over MQTT v5 and 3.1.1: routing of answers,
correlation, fields, token, conditional versions, delete/re-create, answer shapes,
targeted delivery, consumption of requests."""
import subprocess

from clients import (Client, Requester311, Requester5, Subscriber, assert_ts, corr_of,
                     now_ms, publish_as, status_of, uniq, parse_json)


def mk(rr5, tid, **sections):
    return rr5.ok(f"$twin/{tid}/update", sections)


# ------------------------------------------------------------- routing / correlation

def test_get_v5_status_user_property_and_binary_correlation(broker, rr5):
    tid = uniq("rq-get5")
    mk(rr5, tid, attributes={"site": "dc1"})
    corr = b"\x00\x01corr\xff\xfe"
    a = rr5(f"$twin/{tid}/get", corr=corr)
    assert a.status == 200
    assert a.corr == corr
    assert a.topic == rr5.response_topic
    assert a.body["id"] == tid
    assert a.body["attributes"] == {"site": "dc1"}
    assert a.body["version"] == 1


def test_get_v311_accepted_and_rejected(broker, rr5, rr311):
    tid = uniq("rq-get311")
    miss = rr311(f"$twin/{tid}/get")
    assert miss.outcome == "rejected"
    assert miss.topic == f"$twin/{tid}/get/rejected"
    assert miss.body["status"] == 404
    mk(rr5, tid, desired={"x": 1})
    hit = rr311(f"$twin/{tid}/get")
    assert hit.outcome == "accepted"
    assert hit.topic == f"$twin/{tid}/get/accepted"
    assert hit.body["id"] == tid and hit.body["desired"] == {"x": 1}


def test_update_and_delete_v311(broker, rr311):
    tid = uniq("rq-311")
    up = rr311(f"$twin/{tid}/update", {"attributes": {"a": 1}, "token": "u1"})
    assert up.outcome == "accepted", up
    assert up.body["attributes"] == {"a": 1} and up.body["token"] == "u1"
    assert up.body["version"] == 1
    bad = rr311(f"$twin/{tid}/update", {"attributes": {"a": 2}, "version": 7, "token": "u2"})
    assert bad.outcome == "rejected" and bad.body["status"] == 409
    assert bad.body["token"] == "u2"
    de = rr311(f"$twin/{tid}/delete")
    assert de.outcome == "accepted"
    assert de.body == {"id": tid, "version": 2}
    again = rr311(f"$twin/{tid}/delete")
    assert again.outcome == "rejected" and again.body["status"] == 404


def test_v5_without_response_topic_answers_on_accepted_and_rejected(broker, rr5):
    tid = uniq("rq-v5nort")
    c = Client(broker.port, v5=True)      # no subscriptions at all
    try:
        c.publish(f"$twin/{tid}/get", b"")
        m = c.get(desc="rejected answer")
        assert m.topic == f"$twin/{tid}/get/rejected"
        assert parse_json(m.payload)["status"] == 404
        mk(rr5, tid, reported={"r": 1})
        c.publish(f"$twin/{tid}/get", b"")
        m = c.get(desc="accepted answer")
        assert m.topic == f"$twin/{tid}/get/accepted"
        assert parse_json(m.payload)["reported"] == {"r": 1}
    finally:
        c.close()


def test_answer_needs_no_subscription(broker, rr5):
    tid = uniq("rq-nosub")
    mk(rr5, tid, attributes={"a": 1})
    r = Requester5(broker.port, subscribe=False)
    r311 = Requester311(broker.port, subscribe=False)
    try:
        a = r(f"$twin/{tid}/get", corr=b"no-sub")
        assert a.status == 200 and a.corr == b"no-sub" and a.body["id"] == tid
        b = r311(f"$twin/{tid}/get")
        assert b.outcome == "accepted" and b.body["attributes"] == {"a": 1}
    finally:
        r.close()
        r311.close()


def test_one_copy_of_answer_for_subscribed_requester(broker, rr5):
    tid = uniq("rq-onecopy")
    mk(rr5, tid, attributes={"a": 1})
    a = rr5(f"$twin/{tid}/get", corr=b"only-once")
    assert a.status == 200
    rr5.client.sync()
    copies = [m for m in rr5.client.messages(rr5.response_topic) if corr_of(m) == b"only-once"]
    assert len(copies) == 1


def test_answers_are_targeted_only(broker, rr5):
    tid = uniq("rq-target")
    shared = "replies/shared-" + tid
    watcher = Subscriber(broker.port, ["$twin/#", shared, "replies/#", "#"], qos=1)
    w311 = Subscriber(broker.port, ["$twin/+/get/accepted", "$twin/+/update/+"], v5=False)
    requester = Requester5(broker.port, subscribe=False)
    r311 = Requester311(broker.port)
    try:
        a = requester(f"$twin/{tid}/update", {"desired": {"x": 1}}, response_topic=shared)
        assert a.status == 200 and a.topic == shared
        b = requester(f"$twin/{tid}/get", response_topic=shared)
        assert b.status == 200
        c = r311(f"$twin/{tid}/get")
        assert c.outcome == "accepted"
        d = requester(f"$twin/{tid}/get", b"{bad json", response_topic=shared)
        assert d.status == 400
        watcher.sync()
        w311.sync()
        leaked = [m for m in watcher.messages() + w311.messages()
                  if not m.topic.startswith("sync/")
                  and not m.topic.startswith("devices/")   # desired message is public
                  and not m.topic.endswith("/events")]     # change events are public
        assert leaked == []
    finally:
        for x in (watcher, w311, requester, r311):
            x.close()


def test_requests_are_not_delivered_to_subscribers(broker, rr5):
    tid = uniq("rq-consumed")
    watcher = Subscriber(broker.port, ["$twin/#", f"$twin/{tid}/get", f"$twin/{tid}/update"])
    try:
        rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
        rr5.ok(f"$twin/{tid}/get")
        watcher.sync()
        assert [m for m in watcher.messages() if m.topic.startswith("$twin")
                and not m.topic.endswith("/events")] == []
    finally:
        watcher.close()


def test_retained_request_is_not_retained(broker, rr5):
    tid = uniq("rq-retain")
    mk(rr5, tid, attributes={"a": 1})
    a = rr5(f"$twin/{tid}/get", retain=True)
    assert a.status == 200
    a = rr5(f"$twin/{tid}/update", {"attributes": {"b": 2}}, retain=True)
    assert a.status == 200
    late = Subscriber(broker.port, ["$twin/#", f"$twin/{tid}/get", f"$twin/{tid}/update"])
    try:
        late.sync()
        assert [m for m in late.messages() if m.topic.startswith("$twin")] == []
    finally:
        late.close()


def test_forged_answers_and_events_are_consumed(broker, rr5):
    tid = uniq("rq-forge")
    watcher = Subscriber(broker.port, ["$twin/#", f"$twin/{tid}/get/accepted"])
    forger = Client(broker.port, v5=False)
    try:
        for topic in (f"$twin/{tid}/get/accepted", f"$twin/{tid}/update/rejected",
                      f"$twin/{tid}/events", f"$twin/{tid}/get/accepted/x"):
            forger.publish(topic, b'{"id":"forged","version":999}', qos=1)
            forger.publish(topic, b'{"forged":true}', qos=0, retain=True)
        watcher.sync()
        assert [m for m in watcher.messages() if m.topic.startswith("$twin")] == []
        late = Subscriber(broker.port, ["$twin/#"])
        late.sync()
        assert [m for m in late.messages() if m.topic.startswith("$twin")] == []
        late.close()
    finally:
        watcher.close()
        forger.close()
    assert rr5.get(tid).status == 404


def test_qos1_request_puback_codes_and_answer(broker, rr5):
    tid = uniq("rq-qos1")
    mk(rr5, tid, attributes={"a": 1})
    out5 = subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-V", "5", "-q", "1",
                           "-d", "-i", uniq("pub5"), "-t", f"$twin/{tid}/get", "-n"],
                          capture_output=True, text=True, timeout=10)
    text5 = out5.stdout + out5.stderr
    assert "RC:135" in text5, text5
    out3 = subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-V", "311", "-q", "1",
                           "-d", "-i", uniq("pub3"), "-t", f"$twin/{tid}/get", "-n"],
                          capture_output=True, text=True, timeout=10)
    text3 = out3.stdout + out3.stderr
    assert "received PUBACK" in text3 and "RC:135" not in text3, text3
    a = rr5(f"$twin/{tid}/get", qos=1)
    assert a.status == 200 and a.body["id"] == tid


# ------------------------------------------------------------- update / get / delete

def test_update_creates_twin(broker, rr5):
    tid = uniq("rq-create")
    assert rr5.get(tid).status == 404
    t0 = now_ms()
    a = rr5.update(tid, {"attributes": {"site": "dc1"}, "desired": {"fan": 1}})
    assert a.status == 200
    assert a.body["version"] == 1
    t = rr5.twin(tid)
    assert t["attributes"] == {"site": "dc1"}
    assert t["desired"] == {"fan": 1}
    assert t["delta"] == {"fan": 1}
    assert_ts(t["created"], t0, name="created")
    assert t["updated"] == t["created"] == a.body["updated"]
    assert t["connected"] is False


def test_update_answer_shape(broker, rr5):
    tid = uniq("rq-shape")
    publish_as(broker.port, f"devices/{tid}/telemetry", {"fan": 2, "t": 20}, client_id=uniq("p"))
    t0 = now_ms()
    a = rr5.update(tid, {"desired": {"fan": 3}})
    assert a.status == 200
    assert set(a.body) == {"id", "version", "updated", "desired", "delta"}
    assert a.body["id"] == tid and a.body["version"] == 2
    assert a.body["desired"] == {"fan": 3} and a.body["delta"] == {"fan": 3}
    assert_ts(a.body["updated"], t0, name="updated")

    a = rr5.update(tid, {"attributes": {"row": "B"}, "token": "tk"})
    assert set(a.body) == {"id", "version", "updated", "attributes", "token"}
    assert a.body["attributes"] == {"row": "B"} and a.body["version"] == 3

    # each named section "as it is now" (merged), not just the patch
    a = rr5.update(tid, {"desired": {"mode": "eco"}, "attributes": {"pos": 12}})
    assert set(a.body) == {"id", "version", "updated", "desired", "attributes", "delta"}
    assert a.body["desired"] == {"fan": 3, "mode": "eco"}
    assert a.body["attributes"] == {"row": "B", "pos": 12}
    assert a.body["delta"] == {"fan": 3, "mode": "eco"}
    assert a.body["version"] == 4

    a = rr5.update(tid, {"reported": {"fan": 3}})
    assert set(a.body) == {"id", "version", "updated", "reported", "delta"}
    assert a.body["reported"] == {"fan": 3, "t": 20}
    assert a.body["delta"] == {"mode": "eco"}
    assert a.body["version"] == 5


def test_update_that_changes_nothing_does_not_bump(broker, rr5):
    tid = uniq("rq-nochange")
    a1 = rr5.update(tid, {"desired": {"a": 1}, "attributes": {"b": {"c": 2}}})
    t1 = rr5.twin(tid)
    a2 = rr5.update(tid, {"desired": {"a": 1}, "attributes": {"b": {"c": 2}, "gone": None}})
    assert a2.status == 200
    assert a2.body["version"] == a1.body["version"] == 1
    t2 = rr5.twin(tid)
    assert t2 == t1


def test_section_versions(broker, rr5):
    tid = uniq("rq-versions")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    rr5.ok(f"$twin/{tid}/update", {"desired": {"d": 1}})
    rr5.ok(f"$twin/{tid}/update", {"desired": {"d": 2}})
    rr5.ok(f"$twin/{tid}/update", {"reported": {"r": 1}})
    publish_as(broker.port, f"devices/{tid}/telemetry", {"r": 2}, client_id=uniq("p"))
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})    # no change
    t = rr5.twin(tid)
    assert t["version"] == 5
    assert t["versions"]["attributes"] == 1
    assert t["versions"]["desired"] == 2
    assert t["versions"]["reported"] == 2


def test_reported_written_by_request_gets_metadata(broker, rr5):
    tid = uniq("rq-rep")
    t0 = now_ms()
    rr5.ok(f"$twin/{tid}/update", {"reported": {"a": {"b": 1}}, "desired": {"x": 1}})
    t = rr5.twin(tid)
    assert_ts(t["metadata"]["reported"]["a"]["b"]["ts"], t0)
    assert_ts(t["metadata"]["desired"]["x"]["ts"], t0)


def test_attributes_merge_patch(broker, rr5):
    tid = uniq("rq-attr")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"site": "dc1", "loc": {"row": "B", "pos": 1},
                                                  "tags": ["a", "b"]}})
    body = rr5.ok(f"$twin/{tid}/update", {"attributes": {"loc": {"pos": None, "rack": 7},
                                                         "tags": ["c"], "site": None}})
    assert body["attributes"] == {"loc": {"row": "B", "rack": 7}, "tags": ["c"]}
    assert rr5.twin(tid)["attributes"] == body["attributes"]


def test_fields(broker, rr5):
    tid = uniq("rq-fields")
    publish_as(broker.port, f"devices/{tid}/telemetry", {"a": {"b": 1, "c": 2}, "t": 5},
               client_id=uniq("p"))
    rr5.ok(f"$twin/{tid}/update", {"desired": {"fanSpeed": 3, "other": 1},
                                   "attributes": {"site": "dc1"}})
    v = rr5.twin(tid)["version"]

    b = rr5.ok(f"$twin/{tid}/get", {"fields": ["reported"]})
    assert b == {"id": tid, "version": v, "reported": {"a": {"b": 1, "c": 2}, "t": 5}}
    b = rr5.ok(f"$twin/{tid}/get", {"fields": ["desired/fanSpeed"]})
    assert b == {"id": tid, "version": v, "desired": {"fanSpeed": 3}}
    b = rr5.ok(f"$twin/{tid}/get", {"fields": ["reported/a/b", "attributes"]})
    assert b == {"id": tid, "version": v, "reported": {"a": {"b": 1}},
                 "attributes": {"site": "dc1"}}
    b = rr5.ok(f"$twin/{tid}/get", {"fields": ["nosuch", "reported/zz", "desired/fanSpeed/x"]})
    assert b == {"id": tid, "version": v}
    b = rr5.ok(f"$twin/{tid}/get", {"fields": ["delta"], "token": "f1"})
    assert b == {"id": tid, "version": v, "delta": {"fanSpeed": 3, "other": 1}, "token": "f1"}
    b = rr5.ok(f"$twin/{tid}/get", {"fields": []})
    assert b == {"id": tid, "version": v}


def test_big_twin_get_holds_what_its_fields_give(brokers):
    """1000 reported and 1000 desired keys: the full get (written from the stored bytes) holds what a
    get with fields (built from the loaded twin) gives, and its delta is the 500 keys that differ."""
    b = brokers({"max_twin_bytes": "1048576"})
    rr5 = brokers.track(Requester5(b.port))
    tid = uniq("rq-big")
    reported = {f"p{i:03d}": i + 0.5 for i in range(1000)}
    desired = {f"p{i:03d}": i + 0.5 + i % 2 for i in range(1000)}
    publish_as(b.port, f"devices/{tid}/telemetry", reported, client_id=uniq("p"))
    rr5.ok(f"$twin/{tid}/update", {"desired": desired, "attributes": {"site": "dc\u00e9"}})
    full = rr5.ok(f"$twin/{tid}/get", {"token": "big"})
    parts = ["attributes", "reported", "desired", "delta", "metadata", "versions", "created",
             "updated", "lastSeen"]
    selected = rr5.ok(f"$twin/{tid}/get", {"fields": parts})
    assert {p: full[p] for p in parts} == {p: selected[p] for p in parts}
    assert full["delta"] == {k: v for k, v in desired.items() if reported[k] != v}
    assert len(full["delta"]) == 500 and len(full["metadata"]["desired"]) == 1000
    assert full["token"] == "big" and full["connected"] is False


def test_token_echo(broker, rr5, rr311):
    tid = uniq("rq-token")
    tok = "t-\u00e9-" + tid
    a = rr5.update(tid, {"desired": {"a": 1}, "token": tok})
    assert a.status == 200 and a.body["token"] == tok
    a = rr5.get(tid, {"token": tok})
    assert a.status == 200 and a.body["token"] == tok and a.body["desired"] == {"a": 1}
    a = rr5(f"$twin/{tid}-missing/get", {"token": "e1"})
    assert a.status == 404 and a.body["token"] == "e1"
    a = rr5(f"$twin/{tid}/update", {"desire": {"a": 1}, "token": "e2"})
    assert a.status == 400 and a.body["token"] == "e2"
    a = rr5(f"$twin/{tid}/update", {"desired": {"a": 2}, "version": 99, "token": "e3"})
    assert a.status == 409 and a.body["token"] == "e3"
    b = rr311(f"$twin/{tid}-missing/get", {"token": "e4"})
    assert b.outcome == "rejected" and b.body["token"] == "e4"
    b = rr311(f"$twin/{tid}/get", {"token": "ok311"})
    assert b.outcome == "accepted" and b.body["token"] == "ok311"
    long_ok = "x" * 256
    a = rr5.get(tid, {"token": long_ok})
    assert a.status == 200 and a.body["token"] == long_ok
    a = rr5(f"$twin/{tid}/delete", {"token": "d1"})
    assert a.status == 200 and a.body == {"id": tid, "version": 2, "token": "d1"}


def test_no_token_no_token_key(broker, rr5):
    tid = uniq("rq-notoken")
    a = rr5.update(tid, {"attributes": {"a": 1}})
    assert "token" not in a.body
    assert "token" not in rr5.twin(tid)
    a = rr5.get(tid + "-missing")
    assert a.status == 404 and "token" not in a.body


def test_conditional_update(broker, rr5):
    tid = uniq("rq-cond")
    a = rr5.update(tid, {"desired": {"a": 1}, "version": 0})     # create-only
    assert a.status == 200 and a.body["version"] == 1
    a = rr5.update(tid, {"desired": {"a": 2}, "version": 0})     # exists now
    assert a.status == 409
    assert a.body["status"] == 409 and isinstance(a.body["error"], str) and a.body["error"]
    a = rr5.update(tid, {"desired": {"a": 3}, "version": 1})
    assert a.status == 200 and a.body["version"] == 2
    a = rr5.update(tid, {"desired": {"a": 4}, "version": 1})     # stale
    assert a.status == 409
    a = rr5.update(tid, {"desired": {"a": 5}, "version": 3})     # future
    assert a.status == 409
    t = rr5.twin(tid)
    assert t["version"] == 2 and t["desired"] == {"a": 3}


def test_conditional_delete(broker, rr5):
    tid = uniq("rq-cdel")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 2}})
    a = rr5.delete(tid, {"version": 1})
    assert a.status == 409
    assert rr5.get(tid).status == 200
    a = rr5.delete(tid, {"version": 2})
    assert a.status == 200 and a.body == {"id": tid, "version": 3}
    assert rr5.get(tid).status == 404


def test_delete_and_recreate_continues_version(broker, rr5):
    tid = uniq("rq-recreate")
    rr5.ok(f"$twin/{tid}/update", {"desired": {"a": 1}})
    rr5.ok(f"$twin/{tid}/update", {"desired": {"a": 2}})
    a = rr5.delete(tid)
    assert a.status == 200 and a.body == {"id": tid, "version": 3}
    g = rr5.get(tid)
    assert g.status == 404 and g.body["status"] == 404 and tid in g.body["error"]
    assert rr5.delete(tid).status == 404
    a = rr5.update(tid, {"attributes": {"new": True}, "version": 0})
    assert a.status == 200 and a.body["version"] == 4
    t = rr5.twin(tid)
    assert t["version"] == 4
    assert "desired" not in t or t["desired"] == {}
    assert t["attributes"] == {"new": True}


def test_recreate_by_telemetry_continues_version(broker, rr5):
    tid = uniq("rq-recreate-tel")
    rr5.ok(f"$twin/{tid}/update", {"reported": {"a": 1}})
    assert rr5.delete(tid).body["version"] == 2
    publish_as(broker.port, f"devices/{tid}/telemetry", {"b": 1}, client_id=tid)
    t = rr5.twin(tid)
    assert t["version"] == 3 and t["reported"] == {"b": 1}


def test_id_limits(broker, rr5):
    ok256 = "a" * 250 + uniq("")[1:7]
    assert len(ok256.encode()) == 256
    assert rr5.update(ok256, {"attributes": {"a": 1}}).status == 200
    assert rr5.twin(ok256)["id"] == ok256
    utf = "\u00e9" * 125 + uniq("")[1:7]
    assert len(utf.encode()) == 256
    assert rr5.update(utf, {"attributes": {"a": 1}}).status == 200
    assert rr5.twin(utf)["id"] == utf
    ns = "com.example:" + uniq("sensor")
    assert rr5.update(ns, {"attributes": {"a": 1}}).status == 200
    assert rr5.twin(ns)["id"] == ns
