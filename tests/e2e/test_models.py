"""Twin models and alarm rules against a real broker: $twin/models and $twin/{id}/model, every rule
kind refusing an update (400 with path and message, nothing written or pushed), telemetry checked in
warn and reject modes, a model named but not loaded, changing a twin's model, alarms raised / held /
cleared / acknowledged (events, versions, search), for_s on the timer, reload on SIGHUP, bad model
files at start and at reload, and the AWS and Azure fronts."""
import json
import os
import shutil
import signal
import tempfile
import time

import pytest

from broker import Broker, BrokerError
from clients import Device, Requester5, Subscriber, parse_json, uniq, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
RACK_MODEL = os.path.join(HERE, "..", "..", "examples", "models", "rack-th.json")

# every rule kind, on desired (the section users write)
RULES_MODEL = {
    "name": "rules",
    "desired": {
        "type": "object",
        "properties": {
            "int": {"type": "integer", "minimum": 0, "maximum": 5},
            "num": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "multipleOf": 0.25},
            "mode": {"enum": ["eco", "boost"]},
            "fixed": {"const": 7},
            "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
            "list": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2},
            "either": {"type": ["string", "null"]},
            "cfg": {"type": "object", "required": ["on"], "properties": {"on": {"type": "boolean"}},
                    "additionalProperties": {"type": "number"}},
        },
        "additionalProperties": False,
    },
}

HOLD_MODEL = {
    "name": "hold",
    "reported": {"type": "object", "properties": {"t": {"type": "number"}}},
    "alarms": [{"name": "slow-hot", "severity": "warning", "raise": "gt(reported/t,50)", "for_s": 1}],
}


def write_models(directory, *models):
    for m in models:
        with open(os.path.join(directory, m["name"] + ".json"), "w") as f:
            json.dump(m, f)


def models_dir():
    d = tempfile.mkdtemp(prefix="twin-models-")
    shutil.copy(RACK_MODEL, d)
    write_models(d, RULES_MODEL, HOLD_MODEL)
    return d


BROKER_OPTS = {"models_dir": models_dir(), "aws_shadow": "true", "azure_twin": "true"}


def events_of(sub, tid, kind=None):
    out = []
    for m in sub.on("$twin/%s/events" % tid):
        body = parse_json(m.payload)
        if kind is None or body["type"] == kind:
            out.append(body)
    return out


def wait_event(sub, tid, kind, n=1, timeout=5.0):
    return wait_until(lambda: events_of(sub, tid, kind)[n - 1:] and events_of(sub, tid, kind),
                      timeout=timeout, msg="%d %s event(s) of %s" % (n, kind, tid))


def rack(rr5, tid, **attrs):
    a = rr5.update(tid, {"attributes": dict({"model": "rack-th"}, **attrs)})
    assert a.status == 200, a
    return a.body


# --------------------------------------------------------------------------- reading models

def test_models_lists_every_loaded_model(broker, rr5):
    body = rr5.ok("$twin/models", {"token": "m1"})
    names = [m["name"] for m in body["models"]]
    assert names == ["hold", "rack-th", "rules"] and body["token"] == "m1"
    with open(RACK_MODEL) as f:
        assert body["models"][1] == json.load(f)


def test_model_of_a_twin(broker, rr5):
    tid = uniq("mod-of")
    rack(rr5, tid)
    doc = rr5.ok("$twin/%s/model" % tid)
    assert doc["name"] == "rack-th" and doc["reported"]["properties"]["tempTop"]["unit"] == "°C"
    assert rr5.twin(tid)["model"] == "rack-th"
    plain = uniq("mod-none")
    rr5.update(plain, {"attributes": {"site": "x"}})
    a = rr5("$twin/%s/model" % plain)
    assert a.status == 404 and "follows no model" in a.body["error"]
    assert "model" not in rr5.twin(plain)
    assert rr5("$twin/%s/model" % uniq("nobody")).status == 404


# --------------------------------------------------------------------------- updates refused

REFUSALS = [
    ({"int": 9}, "/desired/int", "desired/int: 9 is above the maximum 5 (model rules)"),
    ({"int": -1}, "/desired/int", "desired/int: -1 is below the minimum 0 (model rules)"),
    ({"int": 1.5}, "/desired/int", None),
    ({"int": "3"}, "/desired/int", None),
    ({"num": 1}, "/desired/num", None),
    ({"num": 0}, "/desired/num", None),
    ({"num": 0.3}, "/desired/num", None),
    ({"mode": "turbo"}, "/desired/mode", None),
    ({"fixed": 8}, "/desired/fixed", None),
    ({"name": "a"}, "/desired/name", None),
    ({"name": "abcde"}, "/desired/name", None),
    ({"name": "ab1"}, "/desired/name", None),
    ({"list": []}, "/desired/list", None),
    ({"list": [1, 2, 3]}, "/desired/list", None),
    ({"list": [1, "x"]}, "/desired/list/1", None),
    ({"either": 3}, "/desired/either", None),
    ({"cfg": {"x": 1}}, "/desired/cfg", None),
    ({"cfg": {"on": True, "x": "y"}}, "/desired/cfg/x", None),
    ({"other": 1}, "/desired/other", None),
]


@pytest.mark.parametrize("desired,path,error", REFUSALS)
def test_update_breaking_a_rule_is_refused_and_changes_nothing(broker, rr5, desired, path, error):
    tid = uniq("mod-rule")
    first = rr5.update(tid, {"attributes": {"model": "rules"}, "desired": {"int": 1}})
    assert first.status == 200, first
    dev = Device(broker.port, tid)
    try:
        dev.subscribe("devices/%s/desired" % tid, qos=1)
        dev.get(lambda m: m.topic.endswith("/desired"), desc="the retained desired message")
        a = rr5.update(tid, {"desired": desired, "token": "t"})
        assert a.status == 400, a
        assert a.body["path"] == path and a.body["token"] == "t"
        assert "(model rules)" in a.body["error"]
        if error:
            assert a.body["error"] == error
        twin = rr5.twin(tid)
        assert twin["version"] == first.body["version"] and twin["desired"] == {"int": 1}
        time.sleep(0.2)
        assert len(dev.messages("devices/%s/desired" % tid)) == 1, "nothing pushed"
    finally:
        dev.close()


def test_conforming_updates_pass(broker, rr5):
    tid = uniq("mod-ok")
    rr5.ok("$twin/%s/update" % tid, {"attributes": {"model": "rules"}, "desired": {
        "int": 5, "num": 0.75, "mode": "eco", "fixed": 7, "name": "abc", "list": [1, 2], "either": None,
        "cfg": {"on": True, "x": 2.5}}})
    # null removes a member: the merged result is what is checked
    rr5.ok("$twin/%s/update" % tid, {"desired": {"list": None, "name": "zz"}})
    assert "list" not in rr5.twin(tid)["desired"]


def test_attributes_are_checked(broker, rr5):
    tid = uniq("mod-attr")
    a = rr5.update(tid, {"attributes": {"model": "rack-th", "site": 5}})
    assert a.status == 400 and a.body["path"] == "/attributes/site"
    assert rr5.get(tid).status == 404, "nothing was created"
    rack(rr5, tid, site="dc1", row="A", position=3)


def test_a_model_named_but_not_loaded(broker, rr5):
    tid = uniq("mod-missing")
    a = rr5.update(tid, {"attributes": {"model": "nope"}})
    assert a.status == 400 and a.body["path"] == "/attributes/model"
    assert "'nope', which is not loaded" in a.body["error"]
    # telemetry of a twin whose model is not loaded is applied unchecked, and counted
    before = rr5.stats()
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"attributes": 1, "tempTop": 999})
        wait_until(lambda: rr5.get(tid).status == 200, msg="twin created by telemetry")
    finally:
        dev.close()
    assert rr5.twin(tid)["reported"]["tempTop"] == 999
    assert rr5.stats()["model_invalid"] == before["model_invalid"]


def test_changing_the_model_checks_the_whole_twin(broker, rr5):
    tid = uniq("mod-change")
    rr5.ok("$twin/%s/update" % tid, {"desired": {"extra": 1}})
    a = rr5.update(tid, {"attributes": {"model": "rack-th"}})
    assert a.status == 400 and a.body["path"] == "/desired/extra"
    assert "model" not in rr5.twin(tid)["attributes"]
    rr5.ok("$twin/%s/update" % tid, {"desired": {"fanSpeed": 2, "extra": None}})
    a = rr5.update(tid, {"attributes": {"model": "rack-th"}, "desired": {"fanSpeed": 9}})
    assert a.status == 400 and a.body["path"] == "/desired/fanSpeed"
    rack(rr5, tid)
    assert rr5.twin(tid)["model"] == "rack-th"
    stats = rr5.stats()
    assert stats["model_refused"] >= 1 and stats["requests_model"] >= 0


# --------------------------------------------------------------------------- telemetry

def test_telemetry_breaking_the_model_is_applied_with_an_invalid_event(broker, rr5):
    tid = uniq("mod-warn")
    rack(rr5, tid)
    sub = Subscriber(broker.port, "$twin/%s/events" % tid)
    dev = Device(broker.port, tid)
    before = rr5.stats()["model_invalid"]
    try:
        dev.telemetry({"tempTop": 300, "humidityTop": 40})
        ev = wait_event(sub, tid, "invalid")[0]
        assert ev["path"] == "/reported/tempTop"
        assert ev["error"] == "reported/tempTop: 300 is above the maximum 125 (model rack-th)"
        wait_until(lambda: rr5.twin(tid)["reported"].get("tempTop") == 300, msg="applied (warn)")
    finally:
        dev.close()
        sub.close()
    assert rr5.stats()["model_invalid"] == before + 1


def test_telemetry_rejected_in_reject_mode(brokers):
    b = brokers({"models_dir": models_dir(), "model_reported": "reject"})
    rr5 = brokers.track(Requester5(b.port))
    tid = uniq("mod-reject")
    rack(rr5, tid)
    sub = brokers.track(Subscriber(b.port, "$twin/%s/events" % tid))
    dev = brokers.track(Device(b.port, tid))
    dev.telemetry({"tempTop": 20})
    wait_until(lambda: rr5.twin(tid)["reported"].get("tempTop") == 20, msg="valid reading applied")
    version = rr5.twin(tid)["version"]
    dev.telemetry({"tempTop": "hot", "tempBottom": 21})
    ev = wait_event(sub, tid, "invalid")[0]
    assert ev["path"] == "/reported/tempTop" and "expected a number" in ev["error"]
    dev.telemetry({"tempBottom": 22})
    wait_until(lambda: rr5.twin(tid)["reported"].get("tempBottom") == 22, msg="next reading applied")
    twin = rr5.twin(tid)
    assert twin["reported"]["tempTop"] == 20 and twin["version"] == version + 1, \
        "the rejected message left the twin untouched"
    stats = rr5.stats()
    assert stats["model_invalid"] == 1 and stats["telemetry_invalid"] == 1


# --------------------------------------------------------------------------- alarms

def test_alarm_raise_hold_clear_ack(broker, rr5):
    tid = uniq("mod-alarm")
    rack(rr5, tid, site="dc1")
    sub = Subscriber(broker.port, "$twin/%s/events" % tid)
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"tempTop": 25})
        wait_until(lambda: rr5.twin(tid)["reported"].get("tempTop") == 25, msg="reading")
        assert "alarms" not in rr5.twin(tid)
        dev.telemetry({"tempTop": 33})
        raised = wait_event(sub, tid, "alarm")[0]
        twin = rr5.twin(tid)
        assert raised["name"] == "hot-top" and raised["severity"] == "critical"
        assert raised["active"] is True and raised["acked"] is False
        assert raised["version"] == twin["version"]
        entry = twin["alarms"]["hot-top"]
        assert entry == {"severity": "critical", "active": True, "acked": False, "since": raised["since"]}
        assert twin["versions"]["alarms"] == 1
        found = rr5.ok("$twin/search", {"filter": 'and(eq(alarms/hot-top/active,true),eq(id,"%s"))' % tid})
        assert [t["id"] for t in found["items"]] == [tid]

        dev.telemetry({"tempTop": 31})   # above clear's 30: still active
        wait_until(lambda: rr5.twin(tid)["reported"]["tempTop"] == 31, msg="reading")
        assert rr5.twin(tid)["alarms"]["hot-top"]["active"] is True
        assert len(events_of(sub, tid, "alarm")) == 1

        dev.telemetry({"tempTop": 29})
        cleared = wait_event(sub, tid, "alarm", n=2)[1]
        assert cleared["active"] is False and cleared["since"] == raised["since"]
        assert cleared["cleared"] >= raised["since"]
        twin = rr5.twin(tid)
        assert twin["alarms"]["hot-top"]["active"] is False and twin["versions"]["alarms"] == 2

        a = rr5.ok("$twin/%s/ack" % tid, {"alarm": "hot-top", "token": "k"})
        assert a["alarms"] == {} and a["token"] == "k"
        acked = wait_event(sub, tid, "alarm", n=3)[2]
        assert acked["acked"] is True and acked["active"] is False
        twin = rr5.twin(tid)
        assert twin["alarms"] == {} and twin["version"] == a["version"]
    finally:
        dev.close()
        sub.close()


def test_ack_before_clear_keeps_the_alarm_until_it_clears(broker, rr5):
    tid = uniq("mod-ackfirst")
    rack(rr5, tid)
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"humidityTop": 40, "humidityBottom": 80})
        wait_until(lambda: "humid" in rr5.twin(tid).get("alarms", {}), msg="humid raised")
        a = rr5.ok("$twin/%s/ack" % tid, {"alarm": "humid"})
        assert a["alarms"]["humid"]["acked"] is True and a["alarms"]["humid"]["active"] is True
        again = rr5.ok("$twin/%s/ack" % tid, {"alarm": "humid"})
        assert again["version"] == a["version"], "acknowledging twice changes nothing"
        dev.telemetry({"humidityBottom": 60})
        wait_until(lambda: rr5.twin(tid)["alarms"] == {}, msg="cleared and acked: gone")
    finally:
        dev.close()


def test_ack_errors(broker, rr5):
    tid = uniq("mod-ackerr")
    rack(rr5, tid)
    a = rr5("$twin/%s/ack" % tid, {"alarm": "hot-top"})
    assert a.status == 404 and "has no alarm 'hot-top'" in a.body["error"]
    assert rr5("$twin/%s/ack" % uniq("nobody"), {"alarm": "x"}).status == 404
    for bad in (None, {}, {"alarm": 3}, {"alarm": "x", "other": 1}):
        assert rr5("$twin/%s/ack" % tid, bad).status == 400


def test_for_s_raises_on_the_timer(broker, rr5):
    tid = uniq("mod-hold")
    rr5.ok("$twin/%s/update" % tid, {"attributes": {"model": "hold"}})
    sub = Subscriber(broker.port, "$twin/%s/events" % tid)
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"t": 60})
        wait_until(lambda: rr5.twin(tid)["reported"].get("t") == 60, msg="reading")
        assert "alarms" not in rr5.twin(tid), "not active before for_s"
        t0 = time.time()
        ev = wait_event(sub, tid, "alarm", timeout=5)[0]   # no more telemetry: the timer raises it
        assert ev["active"] is True and ev["name"] == "slow-hot" and time.time() - t0 < 3
        # a hold that stops holding never raises
        other = uniq("mod-hold2")
        rr5.ok("$twin/%s/update" % other, {"attributes": {"model": "hold"}, "reported": {"t": 60}})
        rr5.ok("$twin/%s/update" % other, {"reported": {"t": 10}})
        time.sleep(1.5)
        assert "alarms" not in rr5.twin(other)
    finally:
        dev.close()
        sub.close()


# --------------------------------------------------------------------------- loading

def test_reload_on_sighup_and_bad_files(brokers):
    d = models_dir()
    b = brokers({"models_dir": d})
    rr5 = brokers.track(Requester5(b.port))
    write_models(d, {"name": "extra"})
    b.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "extra" in [m["name"] for m in rr5.ok("$twin/models")["models"]], msg="reloaded")
    with open(os.path.join(d, "broken.json"), "w") as f:
        json.dump({"name": "broken", "desired": {"type": "object", "maximumm": 3}}, f)
    b.proc.send_signal(signal.SIGHUP)
    b.wait_log("models not reloaded")
    assert "broken.json: /desired/maximumm" in b.log_text()
    names = [m["name"] for m in rr5.ok("$twin/models")["models"]]
    assert names == ["extra", "hold", "rack-th", "rules"], "the previous models stay in force"


@pytest.mark.parametrize("doc,where", [
    ({"name": "x", "desired": {"type": "object", "properties": {"a": {"maximum": "5"}}}},
     "/desired/properties/a/maximum"),
    ({"name": "x", "reported": {"typo": 1}}, "/reported/typo"),
    ({"name": "x", "alarms": [{"name": "a", "raise": "gt(reported/t"}]}, "/alarms/0/raise"),
    ({"name": "x", "alarms": [{"name": "a", "raise": "gt(reported/t,1)", "severity": "bad"}]},
     "/alarms/0/severity"),
    ({"name": "bad name"}, "/name"),
    ({"title": "no name"}, "/name"),
    ({"name": "x", "colour": "red"}, "/colour"),
])
def test_a_bad_model_file_refuses_the_start(brokers, doc, where):
    d = tempfile.mkdtemp(prefix="twin-models-")
    write_models(d, {"name": "good"})
    with open(os.path.join(d, "bad.json"), "w") as f:
        json.dump(doc, f)
    b = brokers({"models_dir": d}, start=False)
    assert b.start_expect_exit() != 0
    assert "models_dir: bad.json: %s" % where in b.log_text()


def test_default_model(brokers):
    b = brokers({"models_dir": models_dir(), "default_model": "rack-th"})
    rr5 = brokers.track(Requester5(b.port))
    tid = uniq("mod-default")
    a = rr5.update(tid, {"desired": {"fanSpeed": 7}})
    assert a.status == 400 and a.body["path"] == "/desired/fanSpeed"
    rr5.ok("$twin/%s/update" % tid, {"desired": {"fanSpeed": 2}})
    assert rr5.twin(tid)["model"] == "rack-th"
    assert rr5.ok("$twin/%s/model" % tid)["name"] == "rack-th"
    # a twin naming its own model follows that one
    other = uniq("mod-own")
    rr5.ok("$twin/%s/update" % other, {"attributes": {"model": "rules"}, "desired": {"int": 5}})
    assert rr5.twin(other)["model"] == "rules"


# --------------------------------------------------------------------------- the fronts

def test_aws_update_breaking_the_model_is_rejected(broker, rr5):
    tid = uniq("mod-aws")
    rack(rr5, tid)
    c = Subscriber(broker.port, "$aws/things/%s/shadow/update/+" % tid)
    try:
        c.publish("$aws/things/%s/shadow/update" % tid,
                  json.dumps({"state": {"desired": {"fanSpeed": 9}}, "clientToken": "c"}), qos=1)
        m = c.get(lambda m: m.topic.endswith("/rejected"), desc="AWS rejection")
        body = parse_json(m.payload)
        assert body["code"] == 400 and "desired/fanSpeed: 9 is above the maximum 5" in body["message"]
        assert body["clientToken"] == "c"
    finally:
        c.close()
    assert rr5.twin(tid)["desired"] == {}


def test_azure_reported_patch_breaking_the_model_is_refused(broker, rr5):
    tid = uniq("mod-az")
    rack(rr5, tid)
    dev = Device(broker.port, tid, v5=False)
    try:
        dev.subscribe("$iothub/twin/res/#", qos=0)
        dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=1", json.dumps({"humidityTop": 120}))
        m = dev.get(lambda m: m.topic.startswith("$iothub/twin/res/"), desc="Azure answer")
        assert m.topic.startswith("$iothub/twin/res/400/")
        assert "reported/humidityTop: 120 is above the maximum 100" in parse_json(m.payload)["message"]
    finally:
        dev.close()
    assert "humidityTop" not in rr5.twin(tid)["reported"]


def test_alarm_changes_are_in_the_history(brokers):
    b = brokers({"models_dir": models_dir(), "history_max": "10"})
    rr5 = brokers.track(Requester5(b.port))
    tid = uniq("mod-hist")
    rack(rr5, tid)
    dev = brokers.track(Device(b.port, tid))
    dev.telemetry({"tempTop": 35})
    wait_until(lambda: "hot-top" in rr5.twin(tid).get("alarms", {}), msg="hot-top raised")
    items = rr5.ok("$twin/%s/history" % tid)["items"]
    assert items[0]["alarms"]["hot-top"]["active"] is True and items[0]["reported"]["tempTop"] == 35
    assert "alarms" not in items[-1], "the twin had no alarm at its first version"
    rr5.ok("$twin/%s/ack" % tid, {"alarm": "hot-top"})
    items = rr5.ok("$twin/%s/history" % tid)["items"]
    assert items[0]["alarms"]["hot-top"]["acked"] is True
