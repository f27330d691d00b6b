"""Every kind of answer the broker sends is valid against the JSON Schemas in
schemas/ (the README says: "every answer in the tests is validated against it"), and
the request schemas agree with what the plugin accepts and refuses."""
import json
import os

import jsonschema
import pytest
from jsonschema.validators import validator_for

from clients import (Device, Requester311, Subscriber, nested, parse_json, publish_as,
                     uniq, wait_until)

BROKER_OPTS = {"history_max": 10}  # so that history answers have items to validate

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.abspath(os.path.join(HERE, "..", "..", "schemas"))


def _load_all():
    out = {}
    if os.path.isdir(SCHEMA_DIR):
        for name in sorted(os.listdir(SCHEMA_DIR)):
            if name.endswith(".json"):
                with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
                    out[name] = json.load(f)
    return out


SCHEMAS = _load_all()


def validator(name):
    assert name in SCHEMAS, "schema %s missing in %s (have: %s)" % (
        name, SCHEMA_DIR, sorted(SCHEMAS))
    schema = SCHEMAS[name]
    cls = validator_for(schema)
    cls.check_schema(schema)
    store = {s["$id"]: s for s in SCHEMAS.values() if "$id" in s}
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        registry = Registry().with_resources(
            (uri, Resource.from_contents(s)) for uri, s in store.items())
        return cls(schema, registry=registry)
    except ImportError:  # 4.10 on Debian 12
        resolver = jsonschema.RefResolver(base_uri=schema.get("$id", ""), referrer=schema,
                                          store=store)
        return cls(schema, resolver=resolver)


def valid(name, instance):
    errs = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.path))
    assert not errs, "%s does not accept %s:\n%s" % (
        name, json.dumps(instance)[:800],
        "\n".join("  at /%s: %s" % ("/".join(map(str, e.path)), e.message) for e in errs[:10]))


def invalid(name, instance):
    assert not validator(name).is_valid(instance), \
        "%s accepts %s" % (name, json.dumps(instance)[:300])


EXPECTED = ["twin.json", "get.request.json", "get.response.json", "update.request.json",
            "update.response.json", "delete.request.json", "delete.response.json",
            "error.json", "desired.message.json", "stats.response.json",
            "search.request.json", "search.response.json", "history.request.json",
            "history.response.json", "event.json",
            # the compatibility fronts (docs/compat-fronts.md), validated in test_fronts.py
            "aws-shadow.json", "aws-shadow.get.response.json", "aws-shadow.update.request.json",
            "aws-shadow.update.response.json", "aws-shadow.delete.response.json",
            "aws-shadow.delta.json", "aws-shadow.documents.json", "aws-shadow.error.json",
            "azure-twin.get.response.json", "azure-twin.desired.json", "azure-twin.error.json"]


@pytest.mark.parametrize("name", EXPECTED)
def test_schema_present_and_valid(name):
    validator(name)


def test_twin_and_get_answers(broker, rr5):
    tid = uniq("sch-twin")
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"tempTop": 24.1, "nested": {"a": [1, 2], "b": {"c": True}}})
        rr5.ok(f"$twin/{tid}/update", {"desired": {"fanSpeed": 3, "cfg": {"x": 1}},
                                       "attributes": {"site": "dc1", "position": 12}})
        full = rr5.twin(tid)              # device connected, with lastSeen
    finally:
        dev.close()
    valid("twin.json", full)
    valid("get.response.json", full)
    assert full["connected"] is True

    no_tel = uniq("sch-notel")
    rr5.ok(f"$twin/{no_tel}/update", {"attributes": {"a": 1}})
    t = rr5.twin(no_tel)
    valid("twin.json", t)
    valid("get.response.json", t)

    with_token = rr5.ok(f"$twin/{tid}/get", {"token": "tk"})
    valid("twin.json", with_token)
    valid("get.response.json", with_token)

    for fields in (["reported"], ["desired/fanSpeed"], ["reported/nested/b", "attributes"],
                   ["metadata"], ["versions"], ["delta", "connected", "lastSeen"], [],
                   ["nosuch"]):
        sel = rr5.ok(f"$twin/{tid}/get", {"fields": fields, "token": "sel"})
        valid("get.response.json", sel)
        valid("get.request.json", {"fields": fields, "token": "sel"})


def test_update_and_delete_answers(broker, rr5, rr311):
    tid = uniq("sch-up")
    for req in ({"desired": {"a": 1}},
                {"attributes": {"b": {"c": 2}}, "token": "t1"},
                {"reported": {"a": 1}, "desired": {"d": [1, 2]}},
                {"desired": {"a": None}, "attributes": {"b": None}, "reported": {"z": 1}},
                {"desired": {"q": 1}, "version": 4}):
        valid("update.request.json", req)
        body = rr5.ok(f"$twin/{tid}/update", req)
        valid("update.response.json", body)
    b = rr311(f"$twin/{tid}/update", {"attributes": {"x": 1}, "token": "v311"})
    assert b.outcome == "accepted"
    valid("update.response.json", b.body)
    valid("delete.request.json", {"token": "del"})
    d = rr5.ok(f"$twin/{tid}/delete", {"token": "del"})
    valid("delete.response.json", d)
    tid2 = uniq("sch-del")
    rr5.ok(f"$twin/{tid2}/update", {"attributes": {"a": 1}})
    valid("delete.request.json", {"version": 1})
    valid("delete.response.json", rr5.ok(f"$twin/{tid2}/delete", {"version": 1}))


def test_error_answers(broker, rr5, rr311):
    tid = uniq("sch-err")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    cases = [
        (f"$twin/{tid}-missing/get", None, 404),
        (f"$twin/{tid}-missing/delete", {"token": "x"}, 404),
        (f"$twin/{tid}/update", b"{", 400),
        (f"$twin/{tid}/update", {"desire": {"a": 1}, "token": "typo"}, 400),
        (f"$twin/{tid}/update", {"desired": {"a": 1}, "version": 9}, 409),
        (f"$twin/{tid}/update", {"desired": {"blob": "x" * 70000}}, 413),
        (f"$twin/{tid}/update", {"desired": nested(40)}, 400),
        (f"$twin/{tid}/frobnicate", None, 400),
        ("$twin/" + "a" * 257 + "/get", None, 400),
    ]
    for topic, payload, status in cases:
        a = rr5(topic, payload)
        assert a.status == status, (topic, a.status, a.body)
        valid("error.json", a.body)
    b = rr311(f"$twin/{tid}-missing/get", {"token": "r311"})
    assert b.outcome == "rejected"
    valid("error.json", b.body)
    # invalid response topic -> {request topic}/rejected (over 1 KiB: Mosquitto 2.0.20 and later refuse a
    # wildcard one themselves, before the plugin)
    rr5.client.drain()
    rr5.send(f"$twin/{tid}/get", None, response_topic="r/" + "x" * 1023)
    m = rr5.client.get(lambda m: m.topic == f"$twin/{tid}/get/rejected")
    valid("error.json", parse_json(m.payload))


def test_desired_messages(broker, rr5):
    tid = uniq("sch-des")
    sub = Subscriber(broker.port, f"devices/{tid}/desired")
    try:
        rr5.ok(f"$twin/{tid}/update", {"desired": {"fan": 3, "cfg": {"x": 1, "y": [1]}}})
        m = sub.get(lambda m: m.topic == f"devices/{tid}/desired")
        valid("desired.message.json", parse_json(m.payload))
        publish_as(broker.port, f"devices/{tid}/telemetry", {"fan": 3}, client_id=tid)
        m = sub.get(lambda m: m.topic == f"devices/{tid}/desired")
        valid("desired.message.json", parse_json(m.payload))
    finally:
        sub.close()
    late = Subscriber(broker.port, f"devices/{tid}/desired")
    try:
        m = late.get(lambda m: m.topic == f"devices/{tid}/desired")
        assert m.retain
        valid("desired.message.json", parse_json(m.payload))
    finally:
        late.close()


def test_stats_answer(broker, rr5):
    s = rr5.stats()
    valid("stats.response.json", s)
    r311 = Requester311(broker.port)
    try:
        b = r311("$twin/stats")
        assert b.outcome == "accepted"
        valid("stats.response.json", b.body)
    finally:
        r311.close()


def test_search_answers(broker, rr5, rr311):
    p = uniq("sch-srch")
    dev = Device(broker.port, p + "-dev")
    try:
        dev.telemetry({"tempTop": 24.1, "nested": {"a": [1, None], "b": {"c": True}}})
        rr5.ok(f"$twin/{p}-a/update", {"desired": {"fanSpeed": 3}, "attributes": {"site": "dc1"}})
        rr5.ok(f"$twin/{p}-b/update", {"reported": {"tempTop": 31}, "attributes": {"site": "dc1"}})
        mine = 'like(id,"%s-*")' % p
        requests = [
            {"filter": mine},
            {"filter": mine, "limit": 1, "count": True, "token": "s1"},
            {"filter": "and(%s,eq(attributes/site,\"dc1\"))" % mine, "sort": ["-reported/tempTop"],
             "fields": ["reported", "desired/fanSpeed", "metadata", "versions", "connected",
                        "lastSeen", "nosuch"], "count": True},
            {"filter": "and(%s,eq(id,\"nobody\"))" % mine, "count": True},
            {"limit": 200},
        ]
        first = None
        for req in requests:
            valid("search.request.json", req)
            body = rr5.ok("$twin/search", req)
            valid("search.response.json", body)
            assert body["items"] or req.get("count")
            first = first or (body if "cursor" in body else None)
        assert first is not None
        nxt = {"filter": mine, "limit": 1, "count": True, "cursor": first["cursor"]}
        valid("search.request.json", nxt)
        valid("search.response.json", rr5.ok("$twin/search", nxt))
        b = rr311("$twin/search", {"filter": mine, "token": "v311"}, token="v311")
        assert b.outcome == "accepted"
        valid("search.response.json", b.body)
        for bad in ({"filter": "eq(id,", "token": "e"}, {"limit": 201}, {"sort": [1]}):
            a = rr5("$twin/search", bad)
            assert a.status == 400
            valid("error.json", a.body)
        b = rr311("$twin/search", {"filter": "x(", "token": "r311"}, token="r311")
        assert b.outcome == "rejected"
        valid("error.json", b.body)
    finally:
        dev.close()


def test_history_answers(broker, rr5, rr311):
    tid = uniq("sch-hist")
    publish_as(broker.port, f"devices/{tid}/telemetry", {"t": 1, "n": {"a": [1, None]}}, client_id=tid)
    rr5.ok(f"$twin/{tid}/update", {"desired": {"f": 3}, "attributes": {"s": "x"}})
    rr5.ok(f"$twin/{tid}/update", {"desired": {"f": None}})
    for req in ({}, {"limit": 2, "token": "h"}, {"since": 0, "fields": ["reported/n", "desired"]},
                {"fields": []}, {"since": 9999999999999}, {"limit": 1000}):
        valid("history.request.json", req)
        body = rr5.ok(f"$twin/{tid}/history", req)
        valid("history.response.json", body)
    assert rr5.ok(f"$twin/{tid}/history")["items"]
    b = rr311(f"$twin/{tid}/history", {"token": "v311"})
    assert b.outcome == "accepted"
    valid("history.response.json", b.body)
    for topic, payload, status in ((f"$twin/{tid}-missing/history", {"token": "m"}, 404),
                                   (f"$twin/{tid}/history", {"limit": 0}, 400)):
        a = rr5(topic, payload)
        assert a.status == status
        valid("error.json", a.body)


def test_event_messages(broker, rr5):
    tid = uniq("sch-ev")
    sub = Subscriber(broker.port, "$twin/+/events")
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"t": 1, "o": {"a": 1, "b": [1, None]}})
        rr5.twin(tid)  # applied before the next one: two changes
        dev.telemetry({"o": {"a": None}})
        rr5.twin(tid)
        dev.telemetry(b"not json")
        dev.telemetry(nested(40))
        rr5.ok(f"$twin/{tid}/update", {"desired": {"f": 3}, "attributes": {"s": {"x": 1}}})
        rr5.ok(f"$twin/{tid}/update", {"desired": {"f": None}, "attributes": {"s": None}})
        assert rr5(f"$twin/{tid}/delete").status == 200
        topic = f"$twin/{tid}/events"
        wait_until(lambda: len(sub.messages(topic)) >= 7, msg="7 events")
        sub.sync()
        events = [parse_json(m.payload) for m in sub.messages(topic)]
    finally:
        dev.close()
        sub.close()
    assert [e["type"] for e in events] == ["created", "updated", "error", "error", "updated",
                                           "updated", "deleted"]
    for e in events:
        valid("event.json", e)


@pytest.mark.parametrize("doc", [
    {"limit": 0}, {"limit": 201}, {"limit": "5"}, {"filter": 5}, {"count": "yes"},
    {"sort": "-reported/t"}, {"sort": ["a", "b", "c", "d", "e"]}, {"sort": [""]}, {"sort": ["-"]},
    {"fields": "reported"}, {"token": 5}, {"query": "eq(id,\"a\")"}, {"desired": {}},
])
def test_search_request_schema_refuses_what_the_plugin_refuses(broker, rr5, doc):
    invalid("search.request.json", doc)
    a = rr5("$twin/search", doc)
    assert a.status == 400, (doc, a.status, a.body)
    valid("error.json", a.body)


@pytest.mark.parametrize("name,doc", [
    ("update.request.json", {"desire": {"a": 1}}),
    ("update.request.json", {"desired": 5}),
    ("update.request.json", {"desired": {"a": 1}, "version": "3"}),
    ("update.request.json", {}),
    ("update.request.json", {"token": "t"}),
    ("update.request.json", {"delta": {"a": 1}}),
    ("get.request.json", {"fields": "reported"}),
    ("get.request.json", {"token": 5}),
    ("delete.request.json", {"desired": {"a": 1}}),
    ("history.request.json", {"limit": 0}),
    ("history.request.json", {"limit": 1001}),
    ("history.request.json", {"since": -1}),
    ("history.request.json", {"since": "yesterday"}),
    ("history.request.json", {"fields": "reported"}),
    ("history.request.json", {"version": 1}),
])
def test_request_schemas_refuse_what_the_plugin_refuses(broker, rr5, name, doc):
    invalid(name, doc)
    verb = name.split(".")[0]
    tid = uniq("sch-refuse")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    a = rr5(f"$twin/{tid}/{verb}", doc)
    assert a.status == 400, (doc, a.status, a.body)
    valid("error.json", a.body)
