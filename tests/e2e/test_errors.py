"""Every error of the README table (400, 404, 409 is in test_requests, 413, too deep),
error body shape, and that the broker survives all of it."""
import json

import pytest

from broker import broker_refuses_response_topic
from clients import (Client, Requester5, Subscriber, corr_of, nested, parse_json, publish_as, status_of,
                     uniq, wait_until)


def check_error(a, status, token=None):
    assert a.status == status, "expected %s, got %s %r" % (status, a.status, a.body)
    assert a.body["status"] == status
    assert isinstance(a.body["error"], str) and a.body["error"].strip()
    if token is not None:
        assert a.body.get("token") == token
    return a.body


# (verb, raw payload, what is wrong)
BAD_400 = [
    ("update", b'{"desired":{"a":1}', "malformed JSON"),
    ("update", b'{"desired":{"a":1}} x', "trailing garbage"),
    ("update", b'{"desired":{"a":1}}{}', "second document"),
    ("update", b'{"desired":{"a":1},"desired":{"b":2}}', "duplicate top-level key"),
    ("update", b'{"desired":{"a":1,"a":2}}', "duplicate nested key"),
    ("update", b'{"desired":5}', "desired not an object"),
    ("update", b'{"desired":[1]}', "desired an array"),
    ("update", b'{"desired":null}', "desired null"),
    ("update", b'{"attributes":"x"}', "attributes not an object"),
    ("update", b'{"reported":true}', "reported not an object"),
    ("update", b'{"desired":{"a":1},"version":"3"}', "version a string"),
    ("update", b'{"desired":{"a":1},"version":1.5}', "version not integral"),
    ("update", b'{"desired":{"a":1},"version":true}', "version a boolean"),
    ("update", b'{"desired":{"a":1},"token":5}', "token a number"),
    ("update", b'{"desired":{"a":1},"token":["t"]}', "token an array"),
    ("update", ('{"desired":{"a":1},"token":"%s"}' % ("x" * 257)).encode(), "token > 256 bytes"),
    ("update", b'{"desire":{"a":1}}', "unknown field (typo)"),
    ("update", b'{"desired":{"a":1},"extra":1}', "unknown field beside a valid one"),
    ("update", b'{"delta":{"a":1}}', "delta is derived"),
    ("update", b'{}', "empty update"),
    ("update", b'', "empty payload update"),
    ("update", b'{"token":"t"}', "only a token"),
    ("update", b'{"version":1}', "only a version"),
    ("update", b'[{"desired":{}}]', "payload an array"),
    ("update", b'"x"', "payload a string"),
    ("update", b'\xff\xfe', "not UTF-8"),
    ("update", json.dumps({"desired": nested(40)}).encode(), "too deep"),
    ("get", b'{"fields":"reported"}', "fields a string"),
    ("get", b'{"fields":[1]}', "fields not strings"),
    ("get", b'{"fields":[["reported"]]}', "fields nested array"),
    ("get", b'{"token":5}', "get token a number"),
    ("get", b'{"foo":1}', "get unknown field"),
    ("get", b'{"fields":["reported"]', "get malformed"),
    ("get", b'[]', "get payload an array"),
    ("delete", b'{"version":"1"}', "delete version a string"),
    ("delete", b'{"desired":{"a":1}}', "delete unknown field"),
    ("delete", b'{"version":1} x', "delete trailing garbage"),
]


@pytest.mark.parametrize("verb,payload,why", BAD_400, ids=[b[2] for b in BAD_400])
def test_400(broker, rr5, verb, payload, why):
    tid = uniq("err400")
    created = rr5.update(tid, {"attributes": {"orig": 1}, "desired": {"a": 0}})
    assert created.status == 200
    a = rr5(f"$twin/{tid}/{verb}", payload, corr=b"bad-" + verb.encode())
    check_error(a, 400)
    assert a.corr == b"bad-" + verb.encode()
    assert a.topic == rr5.response_topic
    t = rr5.twin(tid)     # untouched
    assert t["version"] == 1 and t["attributes"] == {"orig": 1} and t["desired"] == {"a": 0}


def test_400_does_not_create_twin(broker, rr5):
    tid = uniq("err400-new")
    for p in (b'{"desire":{"a":1}}', b'{"desired":5}', b"{", b"{}"):
        check_error(rr5(f"$twin/{tid}/update", p), 400)
    assert rr5.get(tid).status == 404


def test_400_over_v311_goes_to_rejected(broker, rr311):
    tid = uniq("err311")
    b = rr311(f"$twin/{tid}/update", b'{"desired":5,"token":"bad311"}')
    assert b.outcome == "rejected" and b.body["status"] == 400
    b = rr311(f"$twin/{tid}/update", b'{"desire":{"a":1},"token":"bad311b"}')
    assert b.outcome == "rejected" and b.body["status"] == 400 and b.body["token"] == "bad311b"


def test_token_echoed_in_400_when_parseable(broker, rr5):
    tid = uniq("err-tok")
    check_error(rr5(f"$twin/{tid}/update", {"desire": {"a": 1}, "token": "tk-1"}), 400, "tk-1")
    check_error(rr5(f"$twin/{tid}/update", {"desired": 5, "token": "tk-2"}), 400, "tk-2")
    check_error(rr5(f"$twin/{tid}/get", {"fields": "x", "token": "tk-3"}), 400, "tk-3")


@pytest.mark.parametrize("tid,why", [
    ("a" * 257, "257 bytes"),
    ("\u00e9" * 129, "258 bytes of UTF-8"),
    ("", "empty"),
])
def test_invalid_id(broker, rr5, tid, why):
    for verb, payload in (("get", None), ("update", {"attributes": {"a": 1}}), ("delete", None)):
        a = rr5(f"$twin/{tid}/{verb}", payload)
        check_error(a, 400)


@pytest.mark.parametrize("rt", ["replies/+", "replies/#", "+", "#", "", "r/" + "x" * 1023])
def test_invalid_response_topic_goes_to_rejected(broker, rr5, rt):
    """The plugin answers on {request topic}/rejected, where the broker lets the request through: from
    2.0.20 on, Mosquitto disconnects a client that sends an empty response topic or one with a wildcard
    (a protocol error) and the plugin never sees it. Nothing is published on that topic either way."""
    tid = uniq("err-rt")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    watcher = Subscriber(broker.port, ["replies/#", "$twin/#"])
    try:
        if broker_refuses_response_topic(rt):
            own = Requester5(broker.port)     # not rr5: the broker drops this connection
            try:
                own.send(f"$twin/{tid}/get", None, corr=b"rt-bad", response_topic=rt)
                wait_until(lambda: any(own.client.client_id in line and "protocol error" in line
                                       for line in broker.log_text().splitlines()),
                           msg="the broker to disconnect %s for a protocol error" % own.client.client_id)
            finally:
                own.close()
        else:
            rr5.client.drain()
            rr5.send(f"$twin/{tid}/get", None, corr=b"rt-bad", response_topic=rt)
            m = rr5.client.get(desc="rejected answer")
            assert m.topic == f"$twin/{tid}/get/rejected", m
            body = parse_json(m.payload)
            assert body["status"] == 400 and body["error"]
        watcher.sync()
        assert [x for x in watcher.messages() if not x.topic.startswith("sync/")] == []
    finally:
        watcher.close()


def test_correlation_data_over_1024_bytes_is_refused(broker, rr5):
    """Correlation data is echoed in every answer, so it is capped: over 1 KiB the request is answered 400
    (without correlation data, which is not kept) and not served; 1 KiB exactly is fine."""
    tid = uniq("err-corr")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    assert rr5(f"$twin/{tid}/get", corr=b"c" * 1024).status == 200
    rr5.client.drain()
    rr5.send(f"$twin/{tid}/update", {"attributes": {"a": 2}}, corr=b"c" * 1025)
    m = rr5.client.get(desc="the refusal")
    body = parse_json(m.payload)
    assert status_of(m) == 400 and "correlation data of 1025 bytes" in body["error"], body
    assert corr_of(m) is None
    assert rr5.twin(tid)["attributes"] == {"a": 1}


def test_unknown_verb(broker, rr5, rr311):
    tid = uniq("err-verb")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    watcher = Subscriber(broker.port, ["$twin/#"])
    try:
        a = rr5(f"$twin/{tid}/frobnicate", b"{}", corr=b"frob")
        check_error(a, 400)
        assert a.corr == b"frob"
        b = rr311(f"$twin/{tid}/frobnicate", b"")
        assert b.outcome == "rejected" and b.body["status"] == 400
        watcher.sync()
        assert [m for m in watcher.messages() if m.topic.startswith("$twin")] == []
    finally:
        watcher.close()
    assert rr5.twin(tid)["version"] == 1


def test_404(broker, rr5, rr311):
    tid = uniq("err404")
    for verb in ("get", "delete"):
        a = rr5(f"$twin/{tid}/{verb}", {"token": "n-" + verb})
        body = check_error(a, 404, "n-" + verb)
        assert tid in body["error"]
        b = rr311(f"$twin/{tid}/{verb}")
        assert b.outcome == "rejected" and b.body["status"] == 404
    assert rr5.get(tid).status == 404      # nothing was created


def test_413_request_too_big(broker, rr5):
    tid = uniq("err413")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    big = {"desired": {"blob": "x" * 70000}, "token": "big"}
    body = check_error(rr5(f"$twin/{tid}/update", big), 413)
    assert rr5.twin(tid)["version"] == 1
    # a big get payload is refused as well
    check_error(rr5(f"$twin/{tid}/get", {"fields": ["x" * 70000]}), 413)
    assert "error" in body


def test_413_twin_would_grow_over_limit(broker, rr5):
    tid = uniq("err413-grow")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": "x" * 25000}})
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"b": "y" * 25000}})
    before = rr5.twin(tid)
    a = rr5(f"$twin/{tid}/update", {"attributes": {"c": "z" * 25000}, "token": "grow"})
    check_error(a, 413, "grow")
    after = rr5.twin(tid)
    assert after == before
    # telemetry that would grow it past the limit is refused too (counted, twin untouched)
    s1 = rr5.stats()
    publish_as(broker.port, f"devices/{tid}/telemetry", {"big": "w" * 30000}, client_id=uniq("p"))
    t = rr5.twin(tid)
    assert t["version"] == before["version"] and "big" not in t.get("reported", {})
    s2 = rr5.stats()
    assert (s2["telemetry_invalid"] + s2["telemetry_dropped"]) - \
        (s1["telemetry_invalid"] + s1["telemetry_dropped"]) == 1


def test_too_deep_desired_and_ok_depth(broker, rr5):
    tid = uniq("err-deep")
    check_error(rr5(f"$twin/{tid}/update", {"desired": nested(40)}), 400)
    deep_array = 1
    for _ in range(40):
        deep_array = [deep_array]
    check_error(rr5(f"$twin/{tid}/update", {"attributes": {"a": deep_array}}), 400)
    assert rr5.get(tid).status == 404
    body = rr5.ok(f"$twin/{tid}/update", {"desired": nested(8)})
    assert body["desired"] == nested(8)


def test_requests_failed_counter(broker, rr5):
    s1 = rr5.stats()
    tid = uniq("err-count")
    rr5(f"$twin/{tid}/get")                         # 404
    rr5(f"$twin/{tid}/update", b"{")                # 400
    rr5(f"$twin/{tid}/update", {"attributes": {"a": 1}})   # 200
    s2 = rr5.stats()
    assert s2["requests_failed"] - s1["requests_failed"] == 2
    # 3 requests + the stats request itself (whether $twin/stats is counted is open)
    assert s2["requests"] - s1["requests"] in (3, 4)


def test_broker_alive_after_bad_input(broker, rr5):
    """Runs last in this module: after every bad request above, the broker still
    answers and unrelated traffic flows."""
    assert broker.running
    r = Requester5(broker.port)
    sub = Subscriber(broker.port, "plain/topic/#", v5=False)
    pub = Client(broker.port, v5=False)
    try:
        pub.publish("plain/topic/x", b"still here", qos=1)
        m = sub.get(lambda m: m.topic == "plain/topic/x")
        assert m.payload == b"still here"
        tid = uniq("err-alive")
        assert r.update(tid, {"attributes": {"a": 1}}).status == 200
        assert r.twin(tid)["attributes"] == {"a": 1}
        assert rr5.client.is_connected()
    finally:
        r.close()
        sub.close()
        pub.close()
