"""Nobody but the plugin publishes on the plugin's own topics, whatever the ACLs allow: a Will (which
Mosquitto 2.0 publishes after a WRITE check only, never through MOSQ_EVT_MESSAGE) on an answer, event,
desired or front topic reaches nobody, retained or not. And the broker's own ACLs decide everything else
exactly as they do without the plugin: no ACL, an acl_file (also after a reload), dynamic-security."""
import json
import os
import signal
import subprocess
import time

from clients import Client, Requester5, uniq, wait_until
from test_access import DYNSEC_PLUGIN, dynsec_password

FRONTS = {"aws_shadow": "true", "azure_twin": "true"}
QUIET = 1.0  # seconds to wait for a message that must not come


def owned_topics(twin):
    """One topic of each kind the plugin publishes on."""
    return [f"$twin/{twin}/events", f"$twin/{twin}/get/accepted", f"$twin/{twin}/update/rejected",
            "$twin/search/accepted", "$twin/stats/rejected", f"devices/{twin}/desired",
            f"$aws/things/{twin}/shadow/update/delta", f"$aws/things/{twin}/shadow/get/accepted",
            f"$aws/things/{twin}/shadow/name/s1/update/documents",
            "$iothub/twin/PATCH/properties/desired/?$version=7", "$iothub/twin/res/200/?$rid=1"]


def die_with_will(port, topic, retain, username=None, password=None):
    """A client connects with a Will on topic and dies without DISCONNECT (kill -9)."""
    cid = uniq("mallory")
    cmd = ["mosquitto_sub", "-p", str(port), "-i", cid, "-t", "sync/" + cid, "-k", "60",
           "--will-topic", topic, "--will-payload", json.dumps({"type": "forged"}), "--will-qos", "1"]
    if retain:
        cmd.append("--will-retain")
    if username:
        cmd += ["-u", username] + (["-P", password] if password else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cid, proc


def kill_all(procs):
    time.sleep(0.5)  # connected (a refused connection exits on its own)
    for p in procs:
        assert p.poll() is None, "the Will client could not connect: %r" % p.stderr.read()
        p.kill()
        p.wait()


def check_wills(b, watcher, stats_client, topics, control_topic, **login):
    """Wills on every owned topic (retained and not) reach no subscriber and leave nothing retained; a
    Will on an ordinary topic (control) is delivered, so the check can fail."""
    before = stats_client.stats()["publishes_refused"]
    procs = [die_with_will(b.port, t, retain, **login)[1] for t in topics for retain in (False, True)]
    procs.append(die_with_will(b.port, control_topic, False, **login)[1])
    kill_all(procs)
    watcher.get(lambda m: m.topic == control_topic, desc="the control Will on an ordinary topic")
    time.sleep(QUIET)
    forged = [m.topic for m in watcher.all if m.topic in topics]
    assert not forged, "forged Wills were delivered on %r" % forged
    late = Client(b.port)
    try:
        late.subscribe(topics)
        time.sleep(QUIET)
        assert not [m.topic for m in late.all if m.payload], "a forged Will was retained"
    finally:
        late.disconnect()
    refused = stats_client.stats()["publishes_refused"] - before
    assert refused == 2 * len(topics), refused


def test_wills_on_owned_topics_without_acl(brokers):
    b = brokers(opts=FRONTS)
    twin = uniq("rack-w")
    watcher = brokers.track(Client(b.port))
    topics = owned_topics(twin)
    watcher.subscribe(topics + ["ctl/" + twin])
    ops = brokers.track(Requester5(b.port))
    check_wills(b, watcher, ops, topics, "ctl/" + twin)
    assert "acl_fallback=auto, no other plugin loaded" in b.log_text()
    # a client's own publish on an owned topic is refused too (MQTT 5 QoS 1: not authorised)
    info = ops.client.c.publish(f"$twin/{twin}/events", b"{}", qos=1)
    info.wait_for_publish(5)
    time.sleep(QUIET)
    assert not [m for m in watcher.all if m.topic == f"$twin/{twin}/events"]
    # the plugin's own messages still flow: telemetry makes an event
    ops.client.publish(f"devices/{twin}/telemetry", {"t": 1}, qos=1)
    watcher.get(lambda m: m.topic == f"$twin/{twin}/events", desc="the plugin's own event")


ACL = """\
user mallory
topic readwrite $twin/#
topic readwrite $aws/things/#
topic readwrite $iothub/twin/#
topic readwrite devices/#
topic readwrite ctl/#
topic readwrite sync/#

user watcher
topic read #
topic read $twin/#
topic read $aws/#
topic read $iothub/#
topic readwrite sync/#
topic readwrite $twin/stats
"""


def test_wills_with_acl_file_granting_everything(brokers, tmp_path):
    acl = tmp_path / "acl"
    acl.write_text(ACL)
    os.chmod(acl, 0o644)
    b = brokers(opts=FRONTS, extra_conf=["acl_file %s" % acl])
    twin = uniq("rack-f")
    watcher = brokers.track(Client(b.port, username="watcher"))
    topics = owned_topics(twin)
    watcher.subscribe(topics + ["ctl/" + twin])
    ops = brokers.track(Requester5(b.port, username="watcher"))
    check_wills(b, watcher, ops, topics, "ctl/" + twin, username="mallory")


def ordinary_acl_holds(b, brokers):
    """The acl_file still decides ordinary topics: mallory may write ctl/#, not other/#."""
    watcher = brokers.track(Client(b.port, username="watcher"))
    watcher.subscribe(["ctl/#", "other/#"])
    mallory = brokers.track(Client(b.port, username="mallory"))
    mallory.publish("other/x", b"denied", qos=1)
    mallory.publish("ctl/x", b"allowed", qos=1)
    watcher.get(lambda m: m.topic == "ctl/x", desc="a publish the acl_file allows")
    time.sleep(QUIET)
    assert not [m for m in watcher.all if m.topic == "other/x"], "the acl_file no longer denies"


def test_acl_file_decides_ordinary_topics_also_after_reload(brokers, tmp_path):
    acl = tmp_path / "acl"
    acl.write_text(ACL)
    os.chmod(acl, 0o644)
    b = brokers(extra_conf=["acl_file %s" % acl])
    ordinary_acl_holds(b, brokers)
    # a reload registers the acl_file check again, behind the plugin's fallback if nothing moved it
    os.kill(b.proc.pid, signal.SIGHUP)
    b.wait_log("Reloading config.")
    ordinary_acl_holds(b, brokers)


def test_no_acl_allows_ordinary_topics_also_after_reload(brokers):
    b = brokers()
    for attempt in range(2):
        watcher = brokers.track(Client(b.port))
        watcher.subscribe(["any/#"])
        pub = brokers.track(Client(b.port))
        pub.publish("any/%d" % attempt, b"x", qos=1)
        watcher.get(lambda m: m.topic == "any/%d" % attempt, desc="an ordinary publish, no ACL")
        if attempt == 0:
            os.kill(b.proc.pid, signal.SIGHUP)
            b.wait_log("Reloading config.")


def test_wills_and_default_deny_with_dynamic_security(brokers, tmp_path):
    assert DYNSEC_PLUGIN, "mosquitto_dynamic_security.so not found (Debian package: mosquitto)"
    acl = lambda kind, topic: {"acltype": kind, "topic": topic, "priority": 0, "allow": True}
    grants = ["$twin/#", "$aws/things/#", "$iothub/twin/#", "devices/#", "ctl/#", "sync/#"]
    config = {
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": True},
        "clients": [dict(username="mallory", roles=[{"rolename": "everything"}],
                         **dynsec_password("pw-m")),
                    dict(username="watcher", roles=[{"rolename": "everything"}],
                         **dynsec_password("pw-w"))],
        "groups": [],
        "roles": [{"rolename": "everything",
                   "acls": [acl(k, t) for t in grants for k in
                            ("publishClientSend", "publishClientReceive", "subscribePattern")]}],
    }
    conf = tmp_path / "dynsec.json"
    conf.write_text(json.dumps(config))
    os.chmod(conf, 0o644)
    b = brokers(opts=FRONTS, extra_conf=["plugin %s" % DYNSEC_PLUGIN, "plugin_opt_config_file %s" % conf])
    twin = uniq("rack-y")
    watcher = brokers.track(Client(b.port, username="watcher", password="pw-w"))
    topics = owned_topics(twin)
    watcher.subscribe(topics + ["ctl/" + twin, "other/#"])
    ops = brokers.track(Requester5(b.port, username="watcher", password="pw-w"))
    check_wills(b, watcher, ops, topics, "ctl/" + twin, username="mallory", password="pw-m")
    assert "acl_fallback=auto, other plugin loaded: mosquitto_dynamic_security.so" in b.log_text()
    # dynamic-security's default deny still holds for a topic no role grants
    mallory = brokers.track(Client(b.port, username="mallory", password="pw-m"))
    mallory.publish("other/x", b"denied", qos=1)
    time.sleep(QUIET)
    assert not [m for m in watcher.all if m.topic == "other/x"], "dynamic-security's default deny broke"


def test_bridged_in_messages_on_owned_topics_are_refused(brokers):
    """A bridge's messages skip the ACL check: the plugin refuses them itself. A remote broker bridged in
    cannot forge a desired push, an answer or an event; its telemetry is applied as any other."""
    remote = brokers(with_plugin=False)
    b = brokers(extra_conf=["connection remote", "address 127.0.0.1:%d" % remote.port,
                            "topic # in 0", "topic $twin/# in 0", "try_private false",
                            "bridge_protocol_version mqttv311"])
    twin = uniq("rack-br")
    watcher = brokers.track(Client(b.port))
    owned = [f"devices/{twin}/desired", f"$twin/{twin}/events", "$twin/search/accepted"]
    watcher.subscribe(owned + [f"devices/{twin}/telemetry"])
    r = brokers.track(Requester5(b.port))
    b.wait_log("Connecting bridge")
    pub = brokers.track(Client(remote.port))
    wait_until(lambda: (pub.publish(f"devices/{twin}/telemetry", {"t": 1}, qos=1) or True) and
               r.get(twin).status == 200, msg="the bridge carries telemetry in", timeout=20)
    before = r.stats()["publishes_refused"]
    for t in owned:
        pub.publish(t, b'{"forged":true}', qos=1)
    pub.publish(f"devices/{twin}/telemetry", {"t": 2}, qos=1)
    wait_until(lambda: r.twin(twin)["reported"] == {"t": 2}, msg="the later telemetry applied")
    time.sleep(QUIET)
    forged = [m.topic for m in watcher.all if m.topic in owned and m.payload == b'{"forged":true}']
    assert not forged, "bridged-in forgeries were delivered on %r" % forged
    assert r.stats()["publishes_refused"] - before == len(owned)
