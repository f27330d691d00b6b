"""Access control with Mosquitto's own ACLs: an acl_file, and the dynamic-security plugin loaded beside
ours. A device reaches only its own twin, an operator reaches every twin, a client without permission gets
nothing (no answer, no event, no change), and a response topic can never carry an answer anywhere but to
the requester."""
import base64
import glob
import hashlib
import json
import os
import time

from clients import Requester5, Subscriber, corr_of, uniq, wait_until

# shipped by Debian's mosquitto package, under the architecture's library directory
DYNSEC_PLUGIN = (glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") +
                 glob.glob("/usr/lib/mosquitto_dynamic_security.so") + [None])[0]
QUIET = 1.0  # seconds to wait for a message that must not come


def no_answers(*requests):
    """Sends (requester, topic, payload) requests and asserts that none of them is answered."""
    sent = [(rr, topic, rr.send(topic, payload, qos=1)) for rr, topic, payload in requests]
    time.sleep(QUIET)
    for rr, topic, corr in sent:
        got = [m.topic for m in rr.client.all if corr_of(m) == corr]
        assert not got, "an answer to %s reached a client the ACL refused: %r" % (topic, got)


def check_device_and_operator(device, other_device, ops, outsider, watcher_ops):
    """The scenario shared by the acl_file and the dynamic-security brokers."""
    dev_id, other_id = device.client.client_id, other_device.client.client_id
    # the device watches every twin's events and its desired state; the ACL lets only its own through
    device.client.subscribe(["$twin/+/events", "devices/%s/desired" % dev_id])
    # telemetry of both devices creates their twins
    device.client.publish("devices/%s/telemetry" % dev_id, {"tempTop": 24.5}, qos=1)
    other_device.client.publish("devices/%s/telemetry" % other_id, {"tempTop": 30.0}, qos=1)
    wait_until(lambda: ops(f"$twin/{other_id}/get").status == 200, msg="the other twin")
    # a device reads and updates its own twin
    assert device(f"$twin/{dev_id}/get").body["reported"] == {"tempTop": 24.5}
    assert device(f"$twin/{dev_id}/update", {"reported": {"fan": 1}}).status == 200
    # ... but not another device's: no answer at all, and nothing changes
    no_answers((device, f"$twin/{other_id}/get", None),
               (device, f"$twin/{other_id}/update", {"desired": {"fan": 9}}),
               (device, f"$twin/{other_id}/delete", None),
               (device, "$twin/search", {"filter": "gt(reported/tempTop,0)"}),
               (device, "$twin/stats", None),
               (outsider, f"$twin/{dev_id}/get", None),
               (outsider, f"$twin/{dev_id}/update", {"desired": {"fan": 9}}))
    t = ops(f"$twin/{other_id}/get").body
    assert t["desired"] == {} and t["version"] == 1, t
    # a response topic cannot redirect an answer: it goes to the requester only, even when the
    # response topic is one the requester may not use and others read
    corr = device.send(f"$twin/{dev_id}/get", response_topic="devices/%s/desired" % other_id)
    m = device.client.get(lambda m: corr_of(m) == corr,
                          desc="the redirected answer, delivered to the requester itself")
    assert json.loads(m.payload)["id"] == dev_id
    assert not [m for m in other_device.client.all if corr_of(m) == corr]
    # the operator reaches every twin and sets desired state; the device gets its delta
    assert ops(f"$twin/{dev_id}/update", {"desired": {"fan": 3}}).status == 200
    delta = device.client.get(lambda m: m.topic == "devices/%s/desired" % dev_id and m.payload,
                              desc="the delta on devices/%s/desired" % dev_id)
    assert json.loads(delta.payload)["delta"] == {"fan": 3}
    assert ops("$twin/search", {"count": True}).body["count"] >= 2
    # events: the operator's watcher sees both twins, the device's watcher only its own twin
    ops(f"$twin/{other_id}/update", {"attributes": {"row": "B"}})
    wait_until(lambda: any(m.topic == f"$twin/{other_id}/events" for m in watcher_ops.all),
               msg="the operator's event of the other twin")
    ops(f"$twin/{dev_id}/update", {"attributes": {"row": "A"}})
    wait_until(lambda: any(m.topic == f"$twin/{dev_id}/events" for m in device.client.all),
               msg="the device's event of its own twin")
    device.client.sync()
    leaked = [m.topic for m in device.client.all
              if m.topic.endswith("/events") and m.topic != f"$twin/{dev_id}/events"]
    assert not leaked, "a device received events of twins it may not read: %r" % leaked
    # the device's answered write is still there, nothing else changed it
    t = ops(f"$twin/{dev_id}/get").body
    assert t["reported"] == {"tempTop": 24.5, "fan": 1} and t["desired"] == {"fan": 3}


ACL_FILE = """\
# devices (no username): client id = twin id
pattern write devices/%c/telemetry
pattern read  devices/%c/desired
pattern write $twin/%c/get
pattern write $twin/%c/update
pattern read  $twin/%c/events
# (the tests' own round-trip marker topic)
pattern readwrite sync/%c/#

# operators, dashboards, Node-RED: every twin
user ops
topic readwrite $twin/#
topic read devices/#
"""


def test_acl_file(brokers, tmp_path):
    acl = tmp_path / "acl"
    acl.write_text(ACL_FILE)
    os.chmod(acl, 0o644)
    b = brokers(extra_conf=["acl_file %s" % acl])
    dev_id, other_id = uniq("rack-a"), uniq("rack-b")
    device = brokers.track(Requester5(b.port, client_id=dev_id))
    other = brokers.track(Requester5(b.port, client_id=other_id))
    ops = brokers.track(Requester5(b.port, username="ops"))
    outsider = brokers.track(Requester5(b.port, client_id=uniq("intruder")))
    watcher_ops = brokers.track(Subscriber(b.port, "$twin/+/events", username="ops"))
    check_device_and_operator(device, other, ops, outsider, watcher_ops)


def dynsec_password(password):
    salt = os.urandom(12)
    iterations = 101
    h = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return {"password": base64.b64encode(h).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": iterations}


def dynsec_config(devices):
    """One role per device (dynamic-security on 2.0 has no %c/%u patterns), one operator role."""
    acl = lambda kind, topic: {"acltype": kind, "topic": topic, "priority": 0, "allow": True}

    def device_acls(d):
        return [acl("publishClientSend", "devices/%s/telemetry" % d),
                acl("publishClientSend", "$twin/%s/get" % d),
                acl("publishClientSend", "$twin/%s/update" % d),
                acl("publishClientReceive", "devices/%s/desired" % d),
                acl("subscribePattern", "devices/%s/desired" % d),
                acl("publishClientReceive", "$twin/%s/events" % d),
                acl("subscribePattern", "$twin/+/events"),
                acl("subscribePattern", "replies/#"),
                # the tests' own round-trip marker topic
                acl("publishClientSend", "sync/%s/#" % d), acl("publishClientReceive", "sync/%s/#" % d),
                acl("subscribePattern", "sync/%s/#" % d)]

    ops_acls = [acl("publishClientSend", "$twin/#"), acl("publishClientReceive", "$twin/#"),
                acl("publishClientReceive", "devices/#"), acl("subscribePattern", "#"),
                acl("subscribePattern", "$twin/#")]
    clients = [dict(username=d, roles=[{"rolename": "device-" + d}], **dynsec_password("pw-" + d))
               for d in devices]
    clients.append(dict(username="ops", roles=[{"rolename": "operator"}], **dynsec_password("pw-ops")))
    return {
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": True},
        "clients": clients,
        "groups": [],
        "roles": [{"rolename": "device-" + d, "acls": device_acls(d)} for d in devices] +
                 [{"rolename": "operator", "acls": ops_acls}],
    }


def test_dynamic_security_beside_the_plugin(brokers, tmp_path):
    assert DYNSEC_PLUGIN, "mosquitto_dynamic_security.so not found (Debian package: mosquitto)"
    dev_id, other_id, out_id = uniq("rack-d"), uniq("rack-e"), uniq("rack-x")
    conf = tmp_path / "dynsec.json"
    conf.write_text(json.dumps(dynsec_config([dev_id, other_id, out_id])))
    os.chmod(conf, 0o644)
    b = brokers(extra_conf=["plugin %s" % DYNSEC_PLUGIN, "plugin_opt_config_file %s" % conf])

    def as_device(d, **kw):
        return brokers.track(Requester5(b.port, client_id=d, username=d, password="pw-" + d, **kw))

    device, other = as_device(dev_id), as_device(other_id)
    outsider = as_device(out_id)
    ops = brokers.track(Requester5(b.port, username="ops", password="pw-ops"))
    watcher_ops = brokers.track(Subscriber(b.port, "$twin/+/events", username="ops",
                                           password="pw-ops"))
    check_device_and_operator(device, other, ops, outsider, watcher_ops)
