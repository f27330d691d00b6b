"""Every kind of answer the broker sends is valid against the JSON Schemas in
schemas/ (the README says: "every answer in the tests is validated against it"), and
the request schemas agree with what the plugin accepts and refuses."""
import json
import os

import jsonschema
import pytest
from jsonschema.validators import validator_for

from clients import Device, Requester311, Subscriber, nested, parse_json, publish_as, uniq

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
            "error.json", "desired.message.json", "stats.response.json"]


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
    # wildcard response topic -> {request topic}/rejected
    rr5.client.drain()
    rr5.send(f"$twin/{tid}/get", None, response_topic="replies/+")
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
])
def test_request_schemas_refuse_what_the_plugin_refuses(broker, rr5, name, doc):
    invalid(name, doc)
    verb = name.split(".")[0]
    tid = uniq("sch-refuse")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    a = rr5(f"$twin/{tid}/{verb}", doc)
    assert a.status == 400, (doc, a.status, a.body)
    valid("error.json", a.body)
