"""The compatibility fronts of docs/compat-fronts.md over plain MQTT: the AWS IoT Device Shadow front
($aws/things/{thing}/shadow[/name/{shadow}]/...) and the Azure IoT Hub device-twin front
($iothub/twin/...), on the same stored twins as $twin. Every answer and message of a front is validated
against its JSON Schema (schemas/aws-shadow.*.json, schemas/azure-twin.*.json). One broker with both
fronts on (small limits, so that 400/413/429 are cheap to reach) and one with both off (their topics
are then ordinary topics)."""
import json
import re
import time
import uuid
from collections import namedtuple

import pytest

from broker import Broker
from clients import (Client, Device, Requester5, Subscriber, corr_of, nested, parse_json, uniq,
                     wait_until)
from test_schemas import valid

MAX_TWIN_BYTES = 4096
MAX_DEPTH = 4
TWIN_RATE = 20          # request_rate_per_twin: a burst of 2 x 20 requests, then 429
BROKER_OPTS = {"aws_shadow": "true", "azure_twin": "true", "max_twin_bytes": MAX_TWIN_BYTES,
               "max_depth": MAX_DEPTH, "request_rate_per_twin": TWIN_RATE}
AWS = "$aws/things/"
IOT = "$iothub/twin/"
ANSWER_SCHEMAS = {("get", "accepted"): "aws-shadow.get.response.json",
                  ("update", "accepted"): "aws-shadow.update.response.json",
                  ("delete", "accepted"): "aws-shadow.delete.response.json"}


def shadow(thing, name=None):
    """The topic prefix P of a classic or named shadow."""
    return AWS + thing + "/shadow" + ("/name/" + name if name else "")


def seconds_now():
    return int(time.time())


def assert_seconds(ts, lo):
    """An epoch-seconds timestamp (not milliseconds) between lo - 1 and now + 1."""
    assert isinstance(ts, int) and not isinstance(ts, bool), ts
    assert lo - 1 <= ts <= seconds_now() + 1, (ts, lo)


def to_seconds(meta):
    """A twin's metadata node ({"ts": ms} leaves) as a shadow shows it ({"timestamp": s} leaves)."""
    if set(meta) == {"ts"} and isinstance(meta["ts"], int):
        return {"timestamp": meta["ts"] // 1000}
    return {k: to_seconds(v) for k, v in meta.items()}


def shadow_of(twin):
    """What a shadow document holds of a twin from $twin/{id}/get: non-empty state and metadata."""
    state = {s: twin[s] for s in ("desired", "reported", "delta") if twin[s]}
    meta = {s: to_seconds(twin["metadata"][s]) for s in ("desired", "reported") if twin[s]}
    return state, meta


AwsAnswer = namedtuple("AwsAnswer", "outcome body topic")


class AwsClient(Client):
    """A shadow client as the AWS SDKs are: MQTT 3.1.1, subscribed to the accepted and rejected topics
    of each request it makes. Every answer is checked against its schema."""

    def __init__(self, port, **kw):
        super().__init__(port, v5=False, **kw)
        self.subscribed = set()

    def send(self, prefix, op, payload=None):
        if (prefix, op) not in self.subscribed:
            self.subscribe(["%s/%s/accepted" % (prefix, op), "%s/%s/rejected" % (prefix, op)], qos=0)
            self.subscribed.add((prefix, op))
        self.publish("%s/%s" % (prefix, op), payload, qos=1)

    def answer(self, prefix, op, token=None):
        topics = ("%s/%s/accepted" % (prefix, op), "%s/%s/rejected" % (prefix, op))

        def match(m):
            return m.topic in topics and (token is None or parse_json(m.payload).get("clientToken") == token)
        m = self.get(match, desc="answer to %s/%s (clientToken %r)" % (prefix, op, token))
        outcome = m.topic.rsplit("/", 1)[1]
        body = parse_json(m.payload)
        valid(ANSWER_SCHEMAS.get((op, outcome), "aws-shadow.error.json"), body)
        assert_seconds(body["timestamp"], seconds_now() - 5)
        return AwsAnswer(outcome, body, m.topic)

    def __call__(self, prefix, op, payload=None):
        """One request; the answer is matched by the payload's clientToken when it has one."""
        self.drain()
        self.send(prefix, op, payload)
        token = payload.get("clientToken") if isinstance(payload, dict) else None
        valid_token = isinstance(token, str) and len(token.encode()) <= 64   # else it is not echoed
        return self.answer(prefix, op, token if valid_token else None)

    def ok(self, prefix, op, payload=None):
        a = self(prefix, op, payload)
        assert a.outcome == "accepted", a
        if isinstance(payload, dict) and "clientToken" in payload:
            assert a.body["clientToken"] == payload["clientToken"]
        else:
            assert "clientToken" not in a.body, a.body
        return a.body

    def rejected(self, prefix, op, payload, code, message=None):
        a = self(prefix, op, payload)
        assert a.outcome == "rejected" and a.body["code"] == code, (payload, a)
        if message is not None:
            assert a.body["message"] == message, (payload, a.body)
        return a.body


AzureAnswer = namedtuple("AzureAnswer", "status params body topic")


def topic_params(topic):
    """The query level of an $iothub topic as a dict ("...?$rid=1&$version=2")."""
    q = topic.rsplit("/", 1)[1]
    assert q.startswith("?"), topic
    return dict(p.split("=", 1) for p in q[1:].split("&"))


class AzureDevice(Client):
    """A device as the Azure SDK connects it: MQTT 3.1.1, username {hub}/{deviceId}/?api-version=...
    (or another username, or none), subscribed to the answer and desired-push topics."""

    def __init__(self, port, device_id, username=True, client_id=None):
        if username is True:
            username = "hub.example/%s/?api-version=2021-04-12" % device_id
        super().__init__(port, client_id=client_id or device_id, v5=False, username=username)
        self.subscribe([IOT + "res/#", IOT + "PATCH/properties/desired/#"], qos=1)

    def __call__(self, verb, payload=b" ", rid=None):
        """$iothub/twin/{verb}?$rid={rid} -> AzureAnswer, its body checked against its schema."""
        rid = rid or str(uuid.uuid4())
        self.publish(IOT + verb + "?$rid=" + rid, payload, qos=1)
        m = self.get(lambda m: m.topic.startswith(IOT + "res/") and topic_params(m.topic).get("$rid") == rid,
                     desc="answer to %s (rid %s)" % (verb, rid))
        status = int(m.topic.split("/")[3])
        if status == 200:
            body = parse_json(m.payload)
            valid("azure-twin.get.response.json", body)
        elif status == 204:
            assert m.payload == b"", m
            body = None
        else:
            body = parse_json(m.payload)
            valid("azure-twin.error.json", body)
            assert body["errorCode"] == status * 1000
        return AzureAnswer(status, topic_params(m.topic), body, m.topic)

    def twin(self):
        a = self("GET/")
        assert a.status == 200 and set(a.params) == {"$rid"}, a
        return a.body

    def patch(self, reported):
        a = self("PATCH/properties/reported/", reported)
        assert a.status == 204, a
        return a

    def on_prefix(self, prefix):
        return [m for m in self.messages() if m.topic.startswith(prefix)]

    def pushes(self):
        """The desired pushes received so far (bodies), each checked against its schema and its topic."""
        out = []
        for m in self.on_prefix(IOT + "PATCH/properties/desired/"):
            body = parse_json(m.payload)
            valid("azure-twin.desired.json", body)
            assert m.qos == 1 and topic_params(m.topic) == {"$version": str(body["$version"])}, m
            out.append(body)
        return out


@pytest.fixture
def aws(broker, _module_clients):
    """The module's AWS client (one connection per module, a new one after a broker restart)."""
    c = _module_clients.get("aws")
    if c is None or c[1] != broker.epoch:
        if c is not None:
            c[0].close()
        c = _module_clients["aws"] = (AwsClient(broker.port), broker.epoch)
    return c[0]


@pytest.fixture
def closing():
    """Clients made in a test, closed at its end."""
    made = []
    yield lambda c: made.append(c) or c
    for c in reversed(made):
        c.close()


def watcher(port, closing, topics):
    """A v5 client subscribed to topics, closed at the end of the test."""
    return closing(Subscriber(port, topics))


def nth(client, topic, n, schema):
    """The n-th message (from 1) the client received on topic, parsed and checked against schema."""
    msgs = wait_until(lambda: client.on(topic)[n - 1:], msg="message #%d on %s" % (n, topic))
    body = parse_json(msgs[0].payload)
    valid(schema, body)
    return body


# --------------------------------------------------------------------------- AWS: documents

def test_aws_classic_round_trip(broker, aws, rr5):
    thing = uniq("aws-rt")
    p = shadow(thing)
    t0 = seconds_now()
    aws.rejected(p, "get", {"clientToken": "g0"}, 404, "No shadow exists with name: '%s'" % thing)
    up = aws.ok(p, "update", {"state": {"desired": {"fan": 3, "cfg": {"mode": "eco", "list": [1, 2]}},
                                        "reported": {"fan": 1}}, "clientToken": "u1"})
    assert up["state"] == {"desired": {"fan": 3, "cfg": {"mode": "eco", "list": [1, 2]}},
                           "reported": {"fan": 1}}
    assert up["version"] == 1
    assert_seconds(up["timestamp"], t0)
    stamp = {"timestamp": up["timestamp"]}
    assert up["metadata"] == {"desired": {"fan": stamp, "cfg": {"mode": stamp, "list": stamp}},
                              "reported": {"fan": stamp}}
    got = aws.ok(p, "get", {"clientToken": "g1", "version": 99})   # a get's version means nothing
    twin = rr5.twin(thing)
    state, meta = shadow_of(twin)
    assert got["state"] == state == {"desired": {"fan": 3, "cfg": {"mode": "eco", "list": [1, 2]}},
                                     "reported": {"fan": 1},
                                     "delta": {"fan": 3, "cfg": {"mode": "eco", "list": [1, 2]}}}
    assert got["metadata"] == meta and got["version"] == twin["version"] == 1
    # merge: only the fields named change, null removes one
    up = aws.ok(p, "update", {"state": {"desired": {"cfg": {"mode": None}},
                                        "reported": {"cfg": {"list": [1, 2]}}},
                              "clientToken": "u2", "version": 1})
    assert up["version"] == 2 and up["state"]["desired"] == {"cfg": {"mode": None}}
    got = aws.ok(p, "get")
    assert got["state"] == {"desired": {"fan": 3, "cfg": {"list": [1, 2]}},
                            "reported": {"fan": 1, "cfg": {"list": [1, 2]}}, "delta": {"fan": 3}}
    assert got["version"] == 2
    deleted = aws.ok(p, "delete", {"clientToken": "d1"})
    assert deleted["version"] == 3 and set(deleted) == {"version", "timestamp", "clientToken"}
    aws.rejected(p, "get", None, 404, "No shadow exists with name: '%s'" % thing)
    assert rr5.get(thing).status == 404
    aws.rejected(p, "delete", {"clientToken": "d2"}, 404, "No shadow exists with name: '%s'" % thing)
    # versions are never reused: the shadow created again continues after the delete
    up = aws.ok(p, "update", {"state": {"reported": {"fan": 2}}})
    assert up["version"] == 4
    assert aws.ok(p, "get")["version"] == rr5.twin(thing)["version"] == 4


def test_aws_desired_null_clears_the_section(broker, aws, rr5):
    thing = uniq("aws-clear")
    p = shadow(thing)
    aws.ok(p, "update", {"state": {"desired": {"a": 1, "b": {"c": 2}}, "reported": {"x": 1}}})
    up = aws.ok(p, "update", {"state": {"desired": None}, "clientToken": "clear"})
    assert up["state"] == {"desired": None} and up["version"] == 2
    got = aws.ok(p, "get")
    assert got["state"] == {"reported": {"x": 1}}
    assert set(got["metadata"]) == {"reported"}
    twin = rr5.twin(thing)
    assert twin["desired"] == {} and twin["delta"] == {} and twin["reported"] == {"x": 1}
    aws.ok(p, "update", {"state": {"reported": None}})
    got = aws.ok(p, "get")
    assert got["state"] == {} and got["metadata"] == {} and got["version"] == 3


def test_aws_attributes_are_not_part_of_the_shadow(broker, aws, rr5):
    thing = uniq("aws-attr")
    rr5.ok(f"$twin/{thing}/update", {"attributes": {"site": "dc1"}})
    got = aws.ok(shadow(thing), "get")
    assert got["state"] == {} and got["metadata"] == {} and got["version"] == 1


def test_aws_other_members_are_ignored(broker, aws, rr5):
    thing = uniq("aws-extra")
    up = aws.ok(shadow(thing), "update", {"state": {"desired": {"a": 1}}, "timestamp": 5, "foo": {"b": 1}})
    assert up["state"] == {"desired": {"a": 1}}
    twin = rr5.twin(thing)
    assert twin["desired"] == {"a": 1} and twin["attributes"] == {}


def stored_ids(rr5, prefix):
    """The ids of the stored twins that start with prefix, through $twin/search (which lists every
    twin, the named shadows' T~N too)."""
    return [t["id"] for t in rr5.ok("$twin/search", {"filter": 'like(id,"%s*")' % prefix,
                                                     "fields": ["id"]})["items"]]


def test_aws_named_shadow_is_twin_with_tilde(broker, aws, rr5):
    thing = uniq("aws-named")
    p = shadow(thing, "config")
    aws.rejected(p, "get", {"clientToken": "n0"}, 404, "No shadow exists with name: 'config'")
    aws.rejected(p, "delete", None, 404, "No shadow exists with name: 'config'")
    up = aws.ok(p, "update", {"state": {"desired": {"rate": 5}}, "clientToken": "n1"})
    assert up["version"] == 1
    assert stored_ids(rr5, thing) == [thing + "~config"]   # the classic shadow is another twin
    aws.rejected(shadow(thing), "get", None, 404, "No shadow exists with name: '%s'" % thing)
    aws.ok(p, "update", {"state": {"reported": {"rate": 5}}})
    got = aws.ok(p, "get")
    assert got["state"] == {"desired": {"rate": 5}, "reported": {"rate": 5}} and got["version"] == 2
    assert aws.ok(p, "delete")["version"] == 3
    assert stored_ids(rr5, thing) == []


def test_aws_version_conflict(broker, aws):
    p = shadow(uniq("aws-409"))
    aws.ok(p, "update", {"state": {"desired": {"a": 1}}})
    aws.ok(p, "update", {"state": {"desired": {"a": 2}}, "version": 1})
    body = aws.rejected(p, "update", {"state": {"desired": {"a": 3}}, "version": 1, "clientToken": "stale"},
                        409, "Version conflict")
    assert body["clientToken"] == "stale"
    aws.rejected(p, "delete", {"version": 1, "clientToken": "stale-del"}, 409, "Version conflict")
    got = aws.ok(p, "get")
    assert got["state"]["desired"] == {"a": 2} and got["version"] == 2
    aws.rejected(p, "update", {"state": {"desired": {"a": 3}}, "version": 0}, 409, "Version conflict")
    aws.ok(shadow(uniq("aws-409-new")), "update", {"state": {"desired": {"a": 1}}, "version": 0})


# (payload, message): every 400 of the contract's table that a payload causes
BAD_UPDATES = [
    (b"{", "Invalid JSON"),
    (b"[1]", "Invalid JSON"),
    (b'"state"', "Invalid JSON"),
    (b"", "Missing required node: state"),
    ({"clientToken": "t"}, "Missing required node: state"),
    ({"state": 5}, "State node must be an object"),
    ({"state": [{"desired": {}}]}, "State node must be an object"),
    ({"state": {"delta": {"a": 1}}}, "State contains an invalid node: 'delta'"),
    ({"state": {"desired": {"a": 1}, "attributes": {"b": 1}}},
     "State contains an invalid node: 'attributes'"),
    ({"state": {"desired": 5}}, "Desired node must be an object"),
    ({"state": {"desired": [1]}}, "Desired node must be an object"),
    ({"state": {"reported": "x"}}, "Reported node must be an object"),
    ({"state": {"reported": True}}, "Reported node must be an object"),
    ({"state": {"desired": {"a": 1}}, "version": "3"}, "Invalid version"),
    ({"state": {"desired": {"a": 1}}, "version": 1.5}, "Invalid version"),
    ({"state": {"desired": {"a": 1}}, "version": -1}, "Invalid version"),
    ({"state": {"desired": {"a": 1}}, "clientToken": "x" * 65}, "Invalid clientToken"),
    ({"state": {"desired": {"a": 1}}, "clientToken": "\u00e9" * 33}, "Invalid clientToken"),  # 66 bytes
    ({"state": {"desired": {"a": 1}}, "clientToken": 5}, "Invalid clientToken"),
    ({"state": {"desired": nested(MAX_DEPTH + 1)}},
     "JSON contains too many levels of nesting; maximum is %d" % MAX_DEPTH),
]


def test_aws_400_cases(broker, aws, rr5):
    thing = uniq("aws-400")
    p = shadow(thing)
    aws.ok(p, "update", {"state": {"desired": {"keep": 1}}})
    for i, (payload, message) in enumerate(BAD_UPDATES):
        # a valid clientToken beside the fault is echoed in the rejection (beside too deep JSON: see
        # test_aws_token_echoed_when_request_refused_unread)
        if isinstance(payload, dict) and "clientToken" not in payload \
                and not message.startswith("JSON contains too many levels"):
            payload = dict(payload, clientToken="bad-%d" % i)
        body = aws.rejected(p, "update", payload, 400, message)
        token = payload.get("clientToken") if isinstance(payload, dict) else None
        if message == "Invalid clientToken" or token is None:
            assert "clientToken" not in body, (payload, body)
        else:
            assert body["clientToken"] == token, (payload, body)
    for op in ("get", "delete"):
        aws.rejected(p, op, b"nope", 400, "Invalid JSON")
        aws.rejected(p, op, {"clientToken": "y" * 65}, 400, "Invalid clientToken")
    # what is just inside the limits is accepted
    aws.ok(p, "update", {"state": {"desired": nested(MAX_DEPTH)}, "clientToken": "x" * 64})
    aws.ok(p, "update", {"state": {}, "clientToken": "\u00e9" * 32})
    twin = rr5.twin(thing)
    assert twin["desired"] == {"keep": 1, "l1": nested(MAX_DEPTH)["l1"]} and twin["version"] == 2


@pytest.mark.parametrize("thing,name,which", [("{t}~b", None, "thing"), ("{t}~b", "cfg", "thing"),
                                              ("{t}", "x~y", "shadow")])
def test_aws_tilde_in_a_name_is_refused(broker, aws, rr5, thing, name, which):
    thing = thing.format(t=uniq("aws-tilde"))
    p = shadow(thing, name)
    for op, payload in (("update", {"state": {"desired": {"a": 1}}, "clientToken": "tilde"}),
                        ("get", {"clientToken": "tilde"}), ("delete", {"clientToken": "tilde"})):
        body = aws.rejected(p, op, payload, 400)
        assert which in body["message"] and "~" in body["message"], body
        assert body["clientToken"] == "tilde"
    assert stored_ids(rr5, thing) == []


def test_aws_invalid_thing_name(broker, aws):
    body = aws.rejected(shadow("x" * 300), "get", {"clientToken": "long"}, 400)
    assert "thing" in body["message"] and body["clientToken"] == "long"


def test_aws_413_resulting_shadow_too_big(broker, aws, rr5):
    thing = uniq("aws-413")
    p = shadow(thing)
    aws.ok(p, "update", {"state": {"reported": {"a": "x" * 2500}}})
    body = aws.rejected(p, "update", {"state": {"reported": {"b": "y" * 2500}}, "clientToken": "big"}, 413)
    assert body["message"].startswith("The payload exceeds the maximum size allowed")
    assert body["clientToken"] == "big"
    assert rr5.twin(thing)["version"] == 1


def test_aws_413_request_too_big(broker, aws):
    p = shadow(uniq("aws-413-req"))
    body = aws.rejected(p, "update", {"state": {"desired": {"a": "x" * MAX_TWIN_BYTES}}}, 413)
    assert body["message"].startswith("The payload exceeds the maximum size allowed")


@pytest.mark.parametrize("payload,code", [
    ({"state": {"desired": {"a": "x" * MAX_TWIN_BYTES}}, "clientToken": "big-req"}, 413),
    ({"state": {"desired": nested(MAX_DEPTH + 1)}, "clientToken": "deep"}, 400),
], ids=["413", "too-deep"])
def test_aws_token_echoed_when_request_refused_unread(broker, aws, payload, code):
    p = shadow(uniq("aws-unread"))
    aws.drain()
    aws.send(p, "update", payload)
    a = aws.answer(p, "update")             # the only answer, whatever its clientToken
    assert a.outcome == "rejected" and a.body["code"] == code, a
    assert a.body.get("clientToken") == payload["clientToken"], a.body


def test_aws_429_echoes_the_token(broker, aws):
    thing = uniq("aws-429")
    p = shadow(thing)
    aws.ok(p, "update", {"state": {"reported": {"a": 1}}})
    n = 3 * TWIN_RATE
    aws.drain()
    for i in range(n):
        aws.send(p, "get", {"clientToken": "burst-%d" % i})
    answers = {}
    for _ in range(n):
        a = aws.answer(p, "get")
        answers[a.body["clientToken"]] = a
    assert set(answers) == {"burst-%d" % i for i in range(n)}
    limited = [a for a in answers.values() if a.outcome == "rejected"]
    assert limited and all(a.body["code"] == 429 for a in limited), limited[:3]
    assert len(limited) < n
    assert "request_rate_per_twin" in limited[0].body["message"]


def test_aws_update_accepted_stamps_every_leaf_of_the_request(broker, aws, rr5):
    """As AWS does, update/accepted gives every leaf of the request the update's time; the twin's own
    metadata moves only for leaves whose value changed."""
    thing = uniq("aws-meta")
    p = shadow(thing)
    aws.ok(p, "update", {"state": {"desired": {"a": 1, "b": 2}, "reported": {"r": 1}}})
    before = rr5.twin(thing)["metadata"]
    time.sleep(1.1)  # the next second, so a moved timestamp shows
    up = aws.ok(p, "update", {"state": {"desired": {"a": 1, "b": 3}, "reported": {"r": 1}}})
    assert up["state"] == {"desired": {"a": 1, "b": 3}, "reported": {"r": 1}}
    t = {"timestamp": up["timestamp"]}
    assert up["metadata"] == {"desired": {"a": t, "b": t}, "reported": {"r": t}}, up
    after = rr5.twin(thing)["metadata"]
    assert after["desired"]["a"] == before["desired"]["a"] and after["reported"] == before["reported"]
    assert after["desired"]["b"]["ts"] > before["desired"]["b"]["ts"]


def test_aws_ignores_a_v5_response_topic(broker, rr5):
    """A front answers on its own topics: an MQTT v5 response topic cannot redirect the answer."""
    thing = uniq("aws-v5")
    p = shadow(thing)
    rr5.client.subscribe([p + "/update/accepted", shadow(thing, "none") + "/get/rejected"], qos=0)
    corr = rr5.send(p + "/update", {"state": {"reported": {"a": 1}}, "clientToken": "v5"})
    m = rr5.client.get(lambda m: m.topic == p + "/update/accepted", desc="update/accepted")
    body = parse_json(m.payload)
    valid("aws-shadow.update.response.json", body)
    assert body["clientToken"] == "v5" and body["version"] == 1
    corr2 = rr5.send(shadow(thing, "none") + "/get")
    m = rr5.client.get(lambda m: m.topic == shadow(thing, "none") + "/get/rejected", desc="get/rejected")
    valid("aws-shadow.error.json", parse_json(m.payload))
    rr5.client.sync()
    assert not [m for m in rr5.client.messages()
                if m.topic == rr5.response_topic and corr_of(m) in (corr, corr2)]
    assert rr5.twin(thing)["reported"] == {"a": 1}


# --------------------------------------------------------------------------- AWS: who sees what

def test_aws_answers_only_to_the_requester(broker, aws, closing):
    thing = uniq("aws-only")
    p = shadow(thing)
    other = watcher(broker.port, closing, [AWS + "+/shadow/#"])
    aws.ok(p, "update", {"state": {"desired": {"a": 1}}, "clientToken": "mine"})
    aws.ok(p, "get", {"clientToken": "mine"})
    aws.rejected(p, "update", b"{", 400)
    aws.ok(p, "delete", {"clientToken": "mine"})
    aws.rejected(p, "get", None, 404)
    other.sync()
    topics = [m.topic for m in other.messages() if m.topic.startswith(p)]
    # as in AWS, requests and the update's documents and delta reach every subscriber; answers never do
    assert sorted(topics) == sorted([p + "/update", p + "/get", p + "/update", p + "/delete", p + "/get",
                                     p + "/update/delta", p + "/update/documents"]), topics


def test_aws_delta_and_documents_messages(broker, aws, rr5, closing):
    thing = uniq("aws-msgs")
    p = shadow(thing)
    sub = watcher(broker.port, closing, [p + "/update/delta", p + "/update/documents"])
    up = aws.ok(p, "update", {"state": {"desired": {"fan": 3, "cfg": {"m": 1}}, "reported": {"fan": 1}},
                              "clientToken": "d1"})
    delta = nth(sub, p + "/update/delta", 1, "aws-shadow.delta.json")
    twin = rr5.twin(thing)
    assert delta["state"] == twin["delta"] == {"fan": 3, "cfg": {"m": 1}}
    assert delta["metadata"] == to_seconds(twin["metadata"]["desired"])
    assert delta["version"] == up["version"] == 1
    docs = nth(sub, p + "/update/documents", 1, "aws-shadow.documents.json")
    assert docs["previous"] is None and docs["clientToken"] == "d1"
    state, meta = shadow_of(twin)
    del state["delta"]
    assert docs["current"] == {"state": state, "metadata": meta, "version": 1}
    before = docs["current"]
    # a $twin update of desired: documents (without a clientToken) and a smaller delta
    rr5.ok(f"$twin/{thing}/update", {"desired": {"cfg": None}, "token": "not-a-client-token"})
    docs = nth(sub, p + "/update/documents", 2, "aws-shadow.documents.json")
    assert "clientToken" not in docs
    assert docs["previous"] == before
    assert docs["current"]["version"] == 2 and docs["current"]["state"]["desired"] == {"fan": 3}
    delta = nth(sub, p + "/update/delta", 2, "aws-shadow.delta.json")
    assert delta["state"] == {"fan": 3} and delta["version"] == 2
    # a $twin change of attributes only is no shadow change, nor is an update that changes nothing
    rr5.ok(f"$twin/{thing}/update", {"attributes": {"site": "dc1"}})
    same = aws.ok(p, "update", {"state": {"desired": {"fan": 3}, "reported": {"fan": 1}}})
    assert same["version"] == 3       # the attributes change; nothing else
    sub.sync()
    assert len(sub.on(p + "/update/documents")) == 2 and len(sub.on(p + "/update/delta")) == 2


def test_native_requests_and_telemetry_never_reach_a_named_shadow(broker, aws, rr5, closing):
    """'~' is the AWS front's own: $twin requests, telemetry and Azure devices naming T~N are refused,
    so a client id or topic level T~N cannot read or write the named shadow N of thing T."""
    thing = uniq("aws-alias")
    twin_id, p = thing + "~cfg", shadow(thing, "cfg")
    aws.ok(p, "update", {"state": {"desired": {"rate": 5}}})
    sub = watcher(broker.port, closing, [AWS + thing + "/shadow/#"])
    for verb, body in (("get", None), ("update", {"desired": {"rate": 7}}), ("history", None),
                       ("delete", None)):
        a = rr5(f"$twin/{twin_id}/{verb}", body)
        assert a.status == 400 and "'~' is reserved for AWS named shadows" in a.body["error"], (verb, a)
    before = rr5.stats()["telemetry_invalid"]
    dev = closing(Device(broker.port, twin_id))
    dev.telemetry({"rate": 9})
    closing(Device(broker.port, uniq("other"))).telemetry({"x": 1}, topic="devices/%s/telemetry" % twin_id)
    wait_until(lambda: rr5.stats()["telemetry_invalid"] == before + 2, msg="both counted invalid")
    az = closing(AzureDevice(broker.port, twin_id))     # the client id T~N
    a = az("PATCH/properties/reported/", {"rate": 9})
    assert a.status == 400 and "reserved" in a.body["message"], a
    got = aws.ok(p, "get")
    assert got["state"] == {"desired": {"rate": 5}, "delta": {"rate": 5}} and got["version"] == 1, got
    sub.sync()      # the get above reaches subscribers, as AWS requests do; nothing else did
    assert [m.topic for m in sub.messages() if m.topic.startswith(AWS)] == [p + "/get"]


def test_aws_telemetry_updates_delta_without_documents(broker, aws, rr5, closing):
    thing = uniq("aws-tel")
    p = shadow(thing)
    sub = watcher(broker.port, closing, [p + "/update/delta", p + "/update/documents"])
    aws.ok(p, "update", {"state": {"desired": {"a": 1, "b": 2}}})
    nth(sub, p + "/update/delta", 1, "aws-shadow.delta.json")
    nth(sub, p + "/update/documents", 1, "aws-shadow.documents.json")
    dev = closing(Device(broker.port, thing))
    # telemetry that changes the delta and leaves it non-empty: a delta message, no documents
    dev.telemetry({"a": 1})
    delta = nth(sub, p + "/update/delta", 2, "aws-shadow.delta.json")
    assert delta["state"] == {"b": 2} and delta["version"] == 2
    # telemetry that makes reported equal desired: no delta left, and no message at all
    dev.telemetry({"b": 2})
    wait_until(lambda: rr5.twin(thing)["version"] == 3, msg="the second telemetry applied")
    got = aws.ok(p, "get")
    assert got["state"] == {"desired": {"a": 1, "b": 2}, "reported": {"a": 1, "b": 2}}
    # telemetry that changes reported only
    dev.telemetry({"c": 3})
    wait_until(lambda: rr5.twin(thing)["version"] == 4, msg="the third telemetry applied")
    sub.sync()
    assert len(sub.on(p + "/update/documents")) == 1, sub.on(p + "/update/documents")
    assert len(sub.on(p + "/update/delta")) == 2, sub.on(p + "/update/delta")


def test_aws_reserved_topics_refused_and_others_passed(broker, closing):
    thing = uniq("aws-forge")
    p, named = shadow(thing), shadow(thing, "cfg")
    sub = watcher(broker.port, closing, [AWS + thing + "/#"])
    forger = closing(Client(broker.port, v5=False))
    forged = [p + "/update/accepted", p + "/update/rejected", p + "/update/delta", p + "/update/documents",
              p + "/get/accepted", p + "/get/rejected", p + "/delete/accepted", p + "/delete/rejected",
              named + "/update/delta", named + "/update/documents", named + "/get/accepted"]
    for t in forged:
        forger.publish(t, {"state": {"desired": {"forged": True}}, "version": 1, "timestamp": 1}, qos=1)
    passed = [AWS + thing + "/jobs/notify", AWS + thing + "/jobs/get", AWS + thing + "/tunnels/notify"]
    for t in passed:
        forger.publish(t, {"jobs": {}}, qos=1)
    sub.sync()
    got = [m for m in sub.messages() if m.topic.startswith(AWS)]
    assert [m.topic for m in got] == passed
    assert all(parse_json(m.payload) == {"jobs": {}} for m in got)


def test_aws_requests_are_never_retained_and_a_v5_qos1_request_is_acknowledged(broker, closing):
    """A request reaches the subscribers of its topic (as in AWS) but is never kept as a retained
    message; an MQTT 5 requester's QoS 1 PUBACK says success (the v2 SDK fails the call otherwise)."""
    thing = uniq("aws-retain")
    p = shadow(thing)
    v5 = closing(Client(broker.port, v5=True))
    v5.subscribe([p + "/update/accepted"], qos=0)
    v5.publish(p + "/update", {"state": {"reported": {"a": 1}}, "clientToken": "kept?"}, qos=1, retain=True)
    body = parse_json(v5.get(lambda m: m.topic == p + "/update/accepted", desc="accepted").payload)
    assert body["clientToken"] == "kept?"
    acks = re.findall(r"Sending PUBACK to %s \(m\d+, rc(\d+)\)" % re.escape(v5.client_id), broker.log_text())
    assert acks and all(int(rc) < 0x80 for rc in acks), acks   # 0 or 16 (no subscribers): success
    late = watcher(broker.port, closing, [p + "/update"])
    late.sync()
    assert not late.messages(p + "/update"), late.messages(p + "/update")


# --------------------------------------------------------------------------- Azure

def test_azure_get_patch_and_twin_agree(broker, rr5, closing):
    dev_id = uniq("az-dev")
    dev = closing(AzureDevice(broker.port, dev_id))
    assert dev.twin() == {"desired": {"$version": 0}, "reported": {"$version": 0}}
    assert rr5.get(dev_id).status == 404            # a GET creates nothing
    a = dev.patch({"temp": 21.5, "fw": {"v": "1.2"}})
    twin = rr5.twin(dev_id)
    assert twin["reported"] == {"temp": 21.5, "fw": {"v": "1.2"}}
    assert a.params["$version"] == str(twin["versions"]["reported"]) == "1"
    a = dev.patch({"fw": None, "ok": [1, 2]})
    assert a.params["$version"] == "2"
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"fan": 3}, "attributes": {"tag": "x"}})
    twin = rr5.twin(dev_id)
    assert dev.twin() == {"desired": {"fan": 3, "$version": twin["versions"]["desired"]},
                          "reported": {"temp": 21.5, "ok": [1, 2], "$version": twin["versions"]["reported"]}}
    assert twin["versions"]["desired"] == 1 and twin["reported"] == {"temp": 21.5, "ok": [1, 2]}


@pytest.fixture(scope="module")
def by_username():
    """A broker with both fronts on and plugin_opt_telemetry_id_from username (the Azure device id is
    then the username), with a v5 requester on it."""
    b = Broker(opts=dict(BROKER_OPTS, telemetry_id_from="username"),
               name="module broker with telemetry_id_from username (%s)" % __name__)
    b.start()
    rr = Requester5(b.port)
    yield b, rr
    rr.close()
    b.close()


def test_azure_device_id_follows_telemetry_id_from(broker, rr5, by_username, closing):
    # telemetry_id_from client_id (the default): the client id, whatever the username names
    cid, named = uniq("az-cid"), uniq("az-named")
    dev = closing(AzureDevice(broker.port, named, client_id=cid))
    dev.patch({"who": cid})
    assert rr5.twin(cid)["reported"] == {"who": cid}
    assert rr5.get(named).status == 404
    cn = closing(AzureDevice(broker.port, uniq("az-cn"), username=uniq("cn"), client_id=uniq("az-cid")))
    cn.patch({"who": cn.client_id})
    assert rr5.twin(cn.client_id)["reported"] == {"who": cn.client_id}
    bad = closing(AzureDevice(broker.port, "bad+id", username=None))
    a = bad("GET/")
    assert a.status == 400 and a.body["errorCode"] == 400000 and "bad+id" in a.body["message"], a
    # telemetry_id_from username: the SDK's {hub}/{deviceId}/... or the whole username (a certificate
    # CN with use_identity_as_username); the client id names nothing
    ub, urr = by_username
    sdk, cn, bare = uniq("az-sdk"), uniq("az-cn"), uniq("az-bare")
    for dev, twin_id in ((closing(AzureDevice(ub.port, sdk, client_id=uniq("cid"))), sdk),
                         (closing(AzureDevice(ub.port, cn, username=cn, client_id=uniq("cid"))), cn)):
        dev.patch({"who": twin_id})
        assert urr.twin(twin_id)["reported"] == {"who": twin_id}
        assert urr.get(dev.client_id).status == 404
    nobody = closing(AzureDevice(ub.port, bare, username=None))
    a = nobody("PATCH/properties/reported/", {"who": bare})
    assert a.status == 400 and a.body["errorCode"] == 400000 and "username" in a.body["message"], a
    assert urr.get(bare).status == 404


def test_azure_rid_echoed_verbatim(broker, closing):
    dev = closing(AzureDevice(broker.port, uniq("az-rid")))
    for rid in ("3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f", "1", "0042"):
        a = dev("GET/", rid=rid)
        assert a.status == 200 and a.topic == IOT + "res/200/?$rid=" + rid
        a = dev("PATCH/properties/reported/", {"n": rid}, rid=rid)
        assert a.status == 204 and a.topic.startswith(IOT + "res/204/?$rid=" + rid + "&$version=")


def test_azure_rid_longer_than_128_bytes_is_refused(broker, rr5, closing):
    dev_id = uniq("az-longrid")
    dev = closing(AzureDevice(broker.port, dev_id))
    a = dev("PATCH/properties/reported/", {"n": 1}, rid="r" * 128)
    assert a.status == 204, a
    for verb, payload in (("GET/", b" "), ("PATCH/properties/reported/", {"n": 2})):
        a = dev(verb, payload, rid="r" * 129)
        assert a.status == 400 and a.topic == IOT + "res/400/?$rid=" + "r" * 129, a
        assert a.body["message"] == "$rid of 129 bytes is over the limit of 128 bytes", a
    assert rr5.twin(dev_id)["reported"] == {"n": 1}


def test_azure_errors(broker, rr5, closing):
    dev_id = uniq("az-err")
    dev = closing(AzureDevice(broker.port, dev_id))
    dev.patch({"keep": 1})
    for payload in (b"{", b"[1]", b'"x"', b"", json.dumps(nested(MAX_DEPTH + 1)).encode()):
        a = dev("PATCH/properties/reported/", payload)
        assert a.status == 400 and a.body["errorCode"] == 400000 and a.body["message"], (payload, a)
    a = dev("FOO/", rid="9")
    assert a.status == 400 and a.topic == IOT + "res/400/?$rid=9" and "FOO" in a.body["message"]
    a = dev("PATCH/properties/reported/", {"big": "x" * MAX_TWIN_BYTES})
    assert a.status == 413 and a.body["errorCode"] == 413000
    dev.patch({"l1": nested(MAX_DEPTH - 1)})
    twin = rr5.twin(dev_id)
    assert twin["reported"] == {"keep": 1, "l1": nested(MAX_DEPTH - 1)} and twin["version"] == 2


def test_azure_conditional_patch_is_refused(broker, rr5, closing):
    dev_id = uniq("az-cond")
    dev = closing(AzureDevice(broker.port, dev_id))
    dev.patch({"a": 1})
    dev.publish(IOT + "PATCH/properties/reported/?$rid=c1&$version=1", {"a": 2}, qos=1)
    m = dev.get(lambda m: m.topic.startswith(IOT + "res/"), desc="answer to the conditional patch")
    assert m.topic == IOT + "res/400/?$rid=c1", m.topic
    body = parse_json(m.payload)
    valid("azure-twin.error.json", body)
    assert "$version" in body["message"]
    assert rr5.twin(dev_id)["reported"] == {"a": 1}


def test_azure_429(broker, closing):
    dev = closing(AzureDevice(broker.port, uniq("az-429")))
    rids = [str(uuid.uuid4()) for _ in range(3 * TWIN_RATE)]
    for rid in rids:
        dev.publish(IOT + "GET/?$rid=" + rid, b" ", qos=1)
    wait_until(lambda: len(dev.on_prefix(IOT + "res/")) == len(rids), msg="every answer")
    answers = {topic_params(m.topic)["$rid"]: m for m in dev.on_prefix(IOT + "res/")}
    assert sorted(answers) == sorted(rids)
    limited = [m for m in answers.values() if m.topic.startswith(IOT + "res/429/")]
    assert limited and len(limited) < len(rids)
    for m in limited:
        body = parse_json(m.payload)
        valid("azure-twin.error.json", body)
        assert body["errorCode"] == 429000 and "request_rate_per_twin" in body["message"]


def test_azure_desired_push_to_the_session_only(broker, rr5, closing):
    dev_id = uniq("az-push")
    others = watcher(broker.port, closing, ["$iothub/#"])
    dev = closing(AzureDevice(broker.port, dev_id))
    # a client that names the device in its username but never used the Azure API
    lurker = closing(AzureDevice(broker.port, dev_id, client_id=uniq("az-lurker")))
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"early": 1}})
    dev.sync()
    assert dev.pushes() == []              # no session yet: nothing pushed
    d0 = dev.twin()["desired"]["$version"]
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"fan": 3, "cfg": {"m": 1}}, "reported": {"x": 1}})
    push = dev.get(lambda m: m.topic.startswith(IOT + "PATCH/properties/desired/"))
    assert push.qos == 1 and push.topic == IOT + "PATCH/properties/desired/?$version=%d" % (d0 + 1)
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"early": None, "cfg": {"m": 2}}})
    rr5.ok(f"$twin/{dev_id}/update", {"reported": {"y": 1}, "attributes": {"z": 1}})  # no desired change
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"fan": 3}})                         # nothing changes
    dev.sync()
    assert dev.pushes() == [{"fan": 3, "cfg": {"m": 1}, "$version": d0 + 1},
                            {"early": None, "cfg": {"m": 2}, "$version": d0 + 2}]
    assert rr5.twin(dev_id)["versions"]["desired"] == d0 + 2
    lurker.sync()
    others.sync()
    assert lurker.pushes() == [] and lurker.on_prefix("$iothub") == []
    assert [m.topic for m in others.messages() if m.topic.startswith("$iothub")] == []


def test_azure_session_moves_and_ends(by_username, closing):
    # two clients of one device at once: only with the device id from the username
    broker, rr5 = by_username
    dev_id = uniq("az-sess")
    first = closing(AzureDevice(broker.port, dev_id, client_id=uniq("az-first")))
    first.twin()
    second = closing(AzureDevice(broker.port, dev_id, client_id=uniq("az-second")))
    second.twin()            # the latest client to use the API holds the session
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"a": 1}})
    second.get(lambda m: m.topic.startswith(IOT + "PATCH/properties/desired/"))
    first.sync()
    assert first.pushes() == []
    second.close()
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"a": 2}})
    # the same client id again, without a request: the session ended with the disconnect
    again = closing(AzureDevice(broker.port, dev_id, client_id=second.client_id))
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"a": 3}})
    again.sync()
    first.sync()
    assert again.pushes() == [] and first.pushes() == []
    again.twin()
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"a": 4}})
    again.get(lambda m: m.topic.startswith(IOT + "PATCH/properties/desired/"))
    assert [p["a"] for p in again.pushes()] == [4]


def test_azure_answers_only_to_the_device(broker, closing):
    dev_id = uniq("az-only")
    others = watcher(broker.port, closing, ["$iothub/#"])
    dev = closing(AzureDevice(broker.port, dev_id))
    dev.twin()
    dev.patch({"a": 1})
    dev("FOO/")
    others.sync()
    assert [m.topic for m in others.messages() if m.topic.startswith("$iothub")] == []


def test_azure_reserved_topics_refused_and_others_passed(broker, closing):
    others = watcher(broker.port, closing, ["$iothub/#"])
    forger = closing(Client(broker.port, v5=False))
    for t in (IOT + "res/200/?$rid=1", IOT + "res/204/?$rid=2&$version=5",
              IOT + "PATCH/properties/desired/?$version=9"):
        forger.publish(t, {"forged": True}, qos=1)
    passed = ["$iothub/methods/POST/reboot/?$rid=3", "$iothub/methods/res/200/?$rid=3"]
    for t in passed:
        forger.publish(t, {"ok": True}, qos=1)
    others.sync()
    assert [m.topic for m in others.messages() if m.topic.startswith("$iothub")] == passed


def test_azure_dollar_version_member_does_not_duplicate_the_key(broker, rr5, closing):
    dev_id = uniq("az-dollar")
    dev = closing(AzureDevice(broker.port, dev_id))
    dev.twin()
    a = dev("PATCH/properties/reported/", {"$version": 7, "t": 1})
    rr5.ok(f"$twin/{dev_id}/update", {"desired": {"$version": 8}})
    dev.sync()
    twin = rr5.twin(dev_id)
    got = dev.twin()        # parse_json refuses a duplicate key
    assert a.status == 400 and "reserved" in a.body["message"]
    assert got["reported"]["$version"] == twin["versions"]["reported"]
    assert got["desired"]["$version"] == twin["versions"]["desired"]
    assert dev.pushes() == []   # nothing an Azure device may see changed


def test_front_devices_are_connected_while_their_client_is(broker, rr5, closing):
    """A thing asking for its own shadow, or an Azure device for its twin, shows as connected in $twin
    until its client disconnects, as a device sending telemetry does."""
    thing, dev_id = uniq("aws-conn"), uniq("az-conn")
    thing_client = closing(AwsClient(broker.port, client_id=thing))
    thing_client.ok(shadow(thing), "update", {"state": {"reported": {"on": True}}})
    dev = closing(AzureDevice(broker.port, dev_id))
    dev.patch({"on": True})
    assert rr5.twin(thing)["connected"] is True and rr5.twin(dev_id)["connected"] is True
    other = closing(AwsClient(broker.port))   # a client asking for somebody else's shadow
    other.ok(shadow(thing, "cfg"), "update", {"state": {"desired": {"x": 1}}})
    assert rr5.get(other.client_id).status == 404
    thing_client.disconnect()
    dev.disconnect()
    wait_until(lambda: not rr5.twin(thing)["connected"] and not rr5.twin(dev_id)["connected"],
               msg="both twins disconnected")


# --------------------------------------------------------------------------- both fronts and $twin

def test_write_via_aws_read_via_azure_and_twin(broker, aws, rr5, closing):
    thing = uniq("both-aws")
    dev = closing(AzureDevice(broker.port, thing))
    dev.twin()                                       # the device's session: it gets desired pushes
    up = aws.ok(shadow(thing), "update", {"state": {"desired": {"fan": 3}, "reported": {"fan": 1}}})
    push = dev.get(lambda m: m.topic.startswith(IOT + "PATCH/properties/desired/"))
    twin = rr5.twin(thing)
    assert parse_json(push.payload) == {"fan": 3, "$version": twin["versions"]["desired"]}
    assert dev.twin() == {"desired": {"fan": 3, "$version": twin["versions"]["desired"]},
                          "reported": {"fan": 1, "$version": twin["versions"]["reported"]}}
    assert twin["desired"] == {"fan": 3} and twin["reported"] == {"fan": 1}
    assert twin["version"] == up["version"]
    # named shadows are other twins: no push for them
    aws.ok(shadow(thing, "cfg"), "update", {"state": {"desired": {"other": 1}}})
    dev.sync()
    assert len(dev.pushes()) == 1


def test_write_via_azure_read_via_aws(broker, aws, rr5, closing):
    thing = uniq("both-az")
    dev = closing(AzureDevice(broker.port, thing))
    dev.patch({"temp": 20, "fw": {"v": 2}})
    rr5.ok(f"$twin/{thing}/update", {"desired": {"temp": 22}})
    got = aws.ok(shadow(thing), "get", {"clientToken": "x-read"})
    twin = rr5.twin(thing)
    state, meta = shadow_of(twin)
    assert got["state"] == state == {"desired": {"temp": 22}, "reported": {"temp": 20, "fw": {"v": 2}},
                                     "delta": {"temp": 22}}
    assert got["metadata"] == meta and got["version"] == twin["version"] == 2
    dev.patch({"temp": 22})
    got = aws.ok(shadow(thing), "get")
    assert "delta" not in got["state"] and got["state"]["reported"]["temp"] == 22 and got["version"] == 3


# --------------------------------------------------------------------------- fronts off

@pytest.fixture(scope="module")
def plain():
    """A broker with the plugin and both fronts off (the default)."""
    b = Broker(name="module broker without fronts (%s)" % __name__)
    b.start()
    yield b
    b.close()


def test_fronts_off_topics_are_ordinary(plain, closing):
    thing = uniq("off")
    sub = watcher(plain.port, closing, [AWS + "#", "$iothub/#"])
    client = closing(Client(plain.port, v5=False, username="hub.example/%s/?api-version=1" % thing))
    client.subscribe([AWS + thing + "/shadow/#", IOT + "res/#"])
    sent = [(shadow(thing) + "/get", b""),
            (shadow(thing) + "/update", b'{"state":{"desired":{"a":1}}}'),
            (shadow(thing) + "/update/accepted", b'{"version":1}'),
            (IOT + "GET/?$rid=1", b" "),
            (IOT + "res/200/?$rid=1", b"{}")]
    for topic, payload in sent:
        client.publish(topic, payload, qos=1)
    sub.sync()
    client.sync()
    assert [(m.topic, m.payload) for m in sub.messages() if m.topic.startswith("$")] == sent
    # the requester hears only what it published itself: nobody answered
    assert [(m.topic, m.payload) for m in client.messages() if m.topic.startswith("$")] == \
        [s for s in sent if s[0].startswith(AWS + thing) or s[0].startswith(IOT + "res/")]
    rr = closing(Requester5(plain.port))
    assert rr.get(thing).status == 404          # the plugin runs, and created no twin
