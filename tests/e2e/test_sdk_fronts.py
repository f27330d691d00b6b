"""The compatibility fronts (docs/compat-fronts.md) driven by the real, unchanged vendor SDKs over
mutual TLS: aws-iot-device-sdk v1 (classic shadow), aws-iot-device-sdk-v2 (named shadow, over MQTT 5
and over MQTT 3.1.1) and azure-iot-device-mqtt (device twin). Each SDK runs a scenario script
(tests/e2e/sdk/*.cjs) that prints what it observed; the test checks that and cross-checks the same
twins through $twin (and the AWS front from Python), at the script's pauses and after it. The
packages come from the npm registry (npm_packages.py), the certificates from openssl (tls_certs.py);
skipped, saying why, where node, npm or openssl is missing."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from types import SimpleNamespace

import pytest

import npm_packages
import tls_certs
from broker import HERE, Broker, free_port, slowdown
from clients import Requester311, Requester5, Subscriber, parse_json, uniq

SDK_DIR = os.path.join(HERE, "sdk")
# script -> the pinned package whose prefix it runs from (azure-iot-device-mqtt 1.16.4 depends on
# exactly azure-iot-device 1.18.4, so both, with one azure-iot-common, are in its prefix)
PACKAGES = {"aws_v1": ("aws-iot-device-sdk", "2.2.16"),
            "aws_v2": ("aws-iot-device-sdk-v2", "1.28.0"),
            "azure": ("azure-iot-device-mqtt", "1.16.4")}
MAX_TWIN_BYTES = 4096
THING_V1, THING_V2, SHADOW, DEVICE = "sdk-v1-thing", "sdk-v2-thing", "config", "azure-dev-1"
V2_PROTOCOLS = ("mqtt5", "mqtt311")
# the acl_file of docs/compat-fronts.md, as written there (least privilege for things and devices,
# whose certificate CN is their username), after the rules of the tests' own anonymous clients on the
# plain listener (cross-checks through $twin and the AWS front, third-party watchers)
ACL = """\
topic readwrite $twin/#
topic readwrite replies/#
topic readwrite sync/#
topic readwrite $aws/things/#

%s
"""


@pytest.fixture(scope="module")
def fronts():
    """A broker with both fronts on: the plain listener, and an mTLS listener whose client
    certificates have the thing names and the device id as CN; npm prefixes of the SDKs."""
    if npm_packages.node_missing():
        pytest.skip(npm_packages.node_missing())
    if shutil.which("openssl") is None:
        pytest.skip("openssl not found (apt-get install openssl)")
    prefixes = {script: npm_packages.package(*pkg) for script, pkg in PACKAGES.items()}
    azure_device = os.path.join(prefixes["azure"], "node_modules", "azure-iot-device", "package.json")
    with open(azure_device) as f:
        assert json.load(f)["version"] == "1.18.4", "another azure-iot-device came with the mqtt one"
    # as the README sets a broker up for the SDKs: the certificate's CN is the username
    # (use_identity_as_username, in mtls_listener_conf) and the Azure device id is the username
    # (telemetry_id_from username), so that a device cannot name another device by its client id
    b = Broker(opts={"aws_shadow": "true", "azure_twin": "true", "max_twin_bytes": MAX_TWIN_BYTES,
                     "telemetry_id_from": "username"},
               name="broker with the AWS and Azure fronts")
    # one certificate per thing: the ACL gives each thing its own shadows only
    pki = tls_certs.make_pki(os.path.join(b.tmp, "pki"),
                             [THING_V1] + ["%s-%s" % (THING_V2, p) for p in V2_PROTOCOLS] + [DEVICE])
    tls_port = free_port()
    acl = os.path.join(b.tmp, "acl")
    with open(acl, "w") as f:
        f.write(ACL % (compat_acl("aws") + compat_acl("azure")))
    os.chmod(acl, 0o644)
    b.extra_conf = tls_certs.mtls_listener_conf(pki, tls_port) + ["acl_file %s" % acl]
    rr = None
    try:
        b.start()
        rr = Requester5(b.port)
        yield SimpleNamespace(broker=b, tls_port=tls_port, pki=pki, prefixes=prefixes, rr=rr)
    finally:
        if rr is not None:
            rr.close()
        b.close()


def compat_acl(front):
    """The acl_file lines of docs/compat-fronts.md for a front (the block after `# acl_file: <front>`)."""
    with open(os.path.join(HERE, "..", "..", "docs", "compat-fronts.md")) as f:
        text = f.read()
    start = text.index("# acl_file: %s\n" % front)
    return text[start:text.index("```", start)]


def run_sdk(fronts, script, cn, params, pauses=None, timeout=45):
    """Runs sdk/<script>.cjs with the client certificate of `cn` and params; at each {"wait": name}
    line calls pauses[name](steps so far), then lets the script go on. Returns {step: its line}
    and asserts exit code 0 and that every pause was reached."""
    pauses = dict(pauses or {})
    cert, key = fronts.pki.clients[cn]
    args = dict(params, port=fronts.tls_port, ca=fronts.pki.ca, cert=cert, key=key, slowdown=slowdown())
    env = dict(os.environ, NODE_PATH=os.path.join(fronts.prefixes[script], "node_modules"))
    steps, lines = {}, []
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(["node", os.path.join(SDK_DIR, script + ".cjs"), json.dumps(args)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                                env=env, cwd=SDK_DIR)
        killer = threading.Timer(timeout * slowdown(), proc.kill)
        killer.start()

        def output():
            err.seek(0)
            return "sdk/%s.cjs stdout:\n%s\nstderr:\n%s" % (script, "\n".join(lines),
                                                           err.read()[-4000:])
        try:
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue            # an SDK's own console output
                if "wait" in obj:
                    pauses.pop(obj["wait"])(steps)
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                elif "step" in obj:
                    steps[obj["step"]] = obj
            rc = proc.wait()
        except Exception as e:
            proc.kill()
            proc.wait()
            raise AssertionError("%s\n%s" % (e, output())) from e
        finally:
            killer.cancel()
        assert rc == 0, "exit code %s\n%s" % (rc, output())
        assert not pauses, "pauses %s not reached\n%s" % (sorted(pauses), output())
    return steps


def near_now_s(t, t0):
    """t is an AWS timestamp (epoch seconds) taken since t0 (time.time() before the scenario)."""
    assert isinstance(t, int) and int(t0) - 1 <= t <= time.time() + 1, (t, t0)


def topics(thing, *suffixes):
    """Topics of the classic shadow of thing."""
    return ["$aws/things/%s/shadow/%s" % (thing, s) for s in suffixes]


def payloads(watcher, topic):
    return [parse_json(m.payload) for m in watcher.on(topic)]


LED_ON = {"desired": {"led": "on", "rate": 5}, "reported": {"led": "off", "rate": 5}}
RATE = {"desired": {"rate": 5, "mode": "eco"}, "reported": {"rate": 1, "mode": "eco"}}


def test_aws_v1_thing_shadow(fronts):
    rr, t0, seen = fronts.rr, time.time(), {}
    documents, delta, accepted = topics(THING_V1, "update/documents", "update/delta", "update/accepted")
    watcher = Subscriber(fronts.broker.port, [documents, delta, accepted], v5=False)

    def native_desired(steps):
        tw = rr.twin(THING_V1)      # what the SDK wrote, through $twin
        assert {k: tw[k] for k in LED_ON} == LED_ON, tw
        assert tw["delta"] == {"led": "on"} and tw["version"] == steps["update"]["doc"]["version"], tw
        a = rr.update(THING_V1, {"desired": {"led": "blink"}})
        assert a.status == 200, a
        seen["desired"] = a.body["version"]

    def native_attributes(steps):   # a version the SDK does not hear of (attributes make no delta)
        a = rr.update(THING_V1, {"attributes": {"site": "lab"}})
        assert a.status == 200, a
        seen["attributes"] = a.body["version"]

    def deleted(steps):
        a = rr.get(THING_V1)
        assert a.status == 404, a   # the delete removed the twin

    s = run_sdk(fronts, "aws_v1", THING_V1, {"thing": THING_V1, "clientId": uniq("sdk-v1")},
                {"native-desired": native_desired, "native-attributes": native_attributes,
                 "deleted": deleted})

    up = s["update"]["doc"]
    assert up["state"] == LED_ON, up
    near_now_s(up["timestamp"], t0)
    near_now_s(up["metadata"]["desired"]["led"]["timestamp"], t0)
    v1 = up["version"]
    d = s["delta"]["doc"]
    assert d["state"] == {"led": "on"} and d["version"] == v1, d
    near_now_s(d["metadata"]["led"]["timestamp"], t0)
    g = s["get"]["doc"]
    assert g["state"] == dict(LED_ON, delta={"led": "on"}), g
    assert g["version"] == v1 and set(g["metadata"]) == {"desired", "reported"}, g
    near_now_s(g["metadata"]["reported"]["rate"]["timestamp"], t0)

    # a desired change made through $twin reaches the SDK as a delta
    assert seen["desired"] == v1 + 1
    nd = s["native-delta"]["doc"]
    assert nd["state"] == {"led": "blink"} and nd["version"] == seen["desired"], nd
    # the SDK sent the version it knew; $twin had moved on
    c = s["stale-update"]
    assert c["stat"] == "rejected" and c["doc"]["code"] == 409, c
    assert c["doc"]["message"] == "Version conflict", c
    g2 = s["get-after-conflict"]["doc"]
    assert g2["version"] == seen["attributes"] == seen["desired"] + 1, g2
    assert g2["state"] == {"desired": {"led": "blink", "rate": 5}, "reported": LED_ON["reported"],
                           "delta": {"led": "blink"}}, g2      # no attributes in a shadow
    u2 = s["update-after-get"]["doc"]
    assert u2["state"] == {"reported": {"led": "blink"}} and u2["version"] == seen["attributes"] + 1, u2
    de = s["delete"]
    assert de["stat"] == "accepted" and de["doc"]["version"] >= u2["version"], de
    gone = s["get-after-delete"]["doc"]
    assert gone["code"] == 404, gone
    assert gone["message"] == "No shadow exists with name: '%s'" % THING_V1, gone
    # made again: versions go on from the deleted one
    made = s["recreate"]["doc"]
    assert made["state"] == {"reported": {"led": "off"}}, made
    assert made["version"] > de["doc"]["version"], made
    tw = rr.twin(THING_V1)
    assert tw["reported"] == {"led": "off"} and not tw.get("desired"), tw
    assert tw["version"] == made["version"], tw

    watcher.sync()
    try:
        # deltas to every subscriber: the SDK's update, the $twin desired change; none once it is empty
        assert [m["state"] for m in payloads(watcher, delta)] == [{"led": "on"}, {"led": "blink"}]
        docs = payloads(watcher, documents)
        first = [x for x in docs if x.get("clientToken") == s["update"]["token"]]
        assert len(first) == 1 and first[0]["current"]["version"] == v1, docs
        native = [x for x in docs if x["current"]["version"] == seen["desired"]]
        assert len(native) == 1, docs
        assert native[0]["previous"]["version"] == v1, native
        assert native[0]["previous"]["state"] == LED_ON, native
        assert native[0]["current"]["state"]["desired"] == {"led": "blink", "rate": 5}, native
        assert watcher.on(accepted) == []       # answers go to the requester only
    finally:
        watcher.close()


@pytest.mark.parametrize("protocol", V2_PROTOCOLS)
def test_aws_v2_named_shadow(fronts, protocol):
    thing = "%s-%s" % (THING_V2, protocol)
    rr, t0, seen, twin_id = fronts.rr, time.time(), {}, "%s~%s" % (thing, SHADOW)
    missing = thing  # its classic shadow: the thing may only reach its own shadows, and has no classic one
    named = "$aws/things/%s/shadow/name/%s" % (thing, SHADOW)
    r311 = Requester311(fronts.broker.port)

    def native(steps):
        # the named shadow is the twin thing~shadow, which only the AWS front reaches
        found = rr.ok("$twin/search", {"filter": 'eq(id,"%s")' % twin_id})["items"]
        assert [{k: tw[k] for k in RATE} for tw in found] == [RATE], found
        assert found[0]["version"] == steps["update"]["doc"]["version"], found
        assert rr.get(twin_id).status == 400        # '~' is refused in $twin ids
        assert rr.get(thing).status == 404          # a named shadow makes no classic shadow
        a = r311(named + "/update", {"state": {"desired": {"rate": 7}}, "clientToken": "py-v2"})
        assert a.outcome == "accepted", a
        seen["desired"] = a.body["version"]

    try:
        s = run_sdk(fronts, "aws_v2", thing, {"thing": thing, "shadow": SHADOW, "missing": missing,
                                                  "clientId": uniq("sdk-v2"), "protocol": protocol},
                    {"native": native})
        after = r311(named + "/get", {"clientToken": "py-gone"})
    finally:
        r311.close()

    m = s["get-missing"]["doc"]
    assert m["code"] == 404 and m["message"] == "No shadow exists with name: '%s'" % missing, m
    up = s["update"]["doc"]
    assert up["state"] == RATE, up
    near_now_s(up["timestamp"], t0)
    d = s["delta"]["doc"]
    assert d["state"] == {"rate": 5} and d["version"] == up["version"], d
    doc = s["documents"]["doc"]
    assert doc["clientToken"] == up["clientToken"] and doc["current"]["version"] == up["version"], doc
    assert doc["current"]["state"] == up["state"], doc
    g = s["get"]["doc"]
    assert g["state"]["delta"] == {"rate": 5} and g["version"] == up["version"], g
    nd = s["native-delta"]["doc"]
    assert nd["state"] == {"rate": 7} and nd["version"] == seen["desired"], nd
    assert s["stale-update"]["doc"]["message"] == "Version conflict", s["stale-update"]
    assert "~" in s["tilde-name"]["doc"]["message"], s["tilde-name"]
    assert s["delete"]["doc"]["version"] >= seen["desired"], s["delete"]
    gone = s["get-after-delete"]["doc"]
    assert gone["message"] == "No shadow exists with name: '%s'" % SHADOW, gone
    assert after.outcome == "rejected" and after.body["code"] == 404, after


def test_azure_device_twin(fronts):
    rr = fronts.rr
    shadow_get, shadow_update = topics(DEVICE, "get", "update")
    r311 = Requester311(fronts.broker.port)

    def native_desired(steps):
        tw = rr.twin(DEVICE)        # the device's reported patch, through $twin
        assert tw["reported"] == {"temp": 21.5, "fw": "1.0", "nested": {"a": 1}}, tw
        assert tw["versions"]["reported"] == 1, tw
        a = rr.update(DEVICE, {"desired": {"fan": "high"}})
        assert a.status == 200, a

    def aws_desired(steps):         # the AWS front changes the same twin
        a = r311(shadow_update, {"state": {"desired": {"fan": "low"}}, "clientToken": "py-azure"})
        assert a.outcome == "accepted" and a.body["clientToken"] == "py-azure", a

    try:
        s = run_sdk(fronts, "azure", DEVICE, {"device": DEVICE, "oversize": MAX_TWIN_BYTES + 100},
                    {"native-desired": native_desired, "aws-desired": aws_desired})
        first = s["get"]["properties"]          # a twin that does not exist yet: empty sections
        assert set(first["desired"]) == {"$version"} and set(first["reported"]) == {"$version"}, first
        high, low = s["desired"]["patch"], s["aws-desired"]["patch"]
        assert high == {"fan": "high", "$version": high["$version"]}, high
        assert low == {"fan": "low", "$version": high["$version"] + 1}, low

        tw, reported = rr.twin(DEVICE), {"temp": 21.5, "nested": {"a": 1}}
        assert tw["reported"] == reported, tw       # fw removed, no blob
        assert tw["desired"] == {"fan": "low"} and tw["versions"]["reported"] == 2, tw
        assert tw["versions"]["desired"] == low["$version"], tw
        again = s["get-again"]["properties"]
        assert again == {"desired": {"fan": "low", "$version": tw["versions"]["desired"]},
                         "reported": dict(reported, **{"$version": 2})}, again
        assert s["oversize"]["error"], s["oversize"]
        # the AWS front reads what the Azure device reported
        g = r311(shadow_get, {"clientToken": "py-get"})
        assert g.outcome == "accepted", g
        assert g.body["state"] == {"desired": {"fan": "low"}, "reported": reported,
                                   "delta": {"fan": "low"}}, g.body
        assert g.body["version"] == tw["version"] and g.body["clientToken"] == "py-get", g.body
    finally:
        r311.close()
