"""Scale-out (README, "Scaling out"): cluster/local.sh's fleet of 3 shards behind HAProxy with 3
NATS nodes, run as real processes on free ports. Devices routed by HAProxy land on the shard owning
their slot (HAProxy's crc32 and the plugin's agree); a device that bypasses HAProxy creates no twin on a
foreign shard (counted in $SYS/broker/twin/cluster; each shard's own twins are read with twinctl);
$twin/{id} requests sent to any shard are answered as if local, over NATS; a dead shard's twins answer
503 at once on the others.

Needs haproxy, nats-server and a plugin built with -DTWIN_CLUSTER=ON: TWIN_CLUSTER_PLUGIN, else
build-cluster/mosquitto_twin.so (tests/run-all.sh builds it); skipped, saying which is missing, otherwise.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import zlib

import pytest

from broker import REPO
from clients import Client, Requester5, uniq, wait_until

LOCAL_SH = os.path.join(REPO, "cluster", "local.sh")
SLOTS = 1024
RANGES = [(0, 341), (342, 682), (683, 1023)]  # shard1..3, as local.sh configures them


def cluster_plugin():
    return os.environ.get("TWIN_CLUSTER_PLUGIN") or os.path.join(REPO, "build-cluster",
                                                                   "mosquitto_twin.so")


def missing():
    for prog in ("haproxy", "nats-server"):
        if not (shutil.which(prog) or os.path.exists("/usr/sbin/" + prog)):
            return "%s is not installed (apt-get install haproxy nats-server)" % prog
    if not os.path.exists(cluster_plugin()):
        return ("no cluster build of the plugin at %s (cmake -B build-cluster -DTWIN_CLUSTER=ON, or set "
                "TWIN_CLUSTER_PLUGIN)" % cluster_plugin())
    return None


def shard_of(twin_id):
    """1..3: the shard owning the id's slot, computed as HAProxy does (crc32 mod 1024)."""
    slot = zlib.crc32(twin_id.encode()) % SLOTS
    return next(i + 1 for i, (lo, hi) in enumerate(RANGES) if lo <= slot <= hi)


def free_base():
    """A base port P with P..P+33 free on 127.0.0.1."""
    for _ in range(50):
        base = random.randrange(20000, 60000)
        socks = []
        try:
            for p in range(base, base + 34):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no 34 free ports in a row")


@pytest.fixture(scope="module")
def fleet():
    why = missing()
    if why:
        pytest.skip(why)
    base = free_base()
    d = tempfile.mkdtemp(prefix="twin-cluster-")
    env = dict(os.environ, TWIN_CLUSTER_DIR=d, TWIN_PLUGIN=cluster_plugin())
    try:
        up = subprocess.run([LOCAL_SH, "up", "--base-port", str(base)], env=env, capture_output=True,
                            text=True, timeout=90)
        assert up.returncode == 0, "local.sh up failed: %s %s" % (up.stdout, up.stderr)
        assert up.stdout.strip().splitlines()[-1] == "ready mqtt=127.0.0.1:%d" % base, up.stdout
        yield {"base": base, "dir": d, "shard": {i: base + i for i in (1, 2, 3)}}
    finally:
        down = subprocess.run([LOCAL_SH, "down"], env=env, capture_output=True, text=True, timeout=60)
        assert down.returncode == 0, down.stderr
        assert not [f for f in os.listdir(d) if f.endswith(".pid")], "down left pid files"
        shutil.rmtree(d, ignore_errors=True)


def telemetry(port, twin_id, reading):
    """A device whose client id is its twin id publishes one reading (QoS 1) on port."""
    c = Client(port, client_id=twin_id)
    try:
        c.publish("devices/%s/telemetry" % twin_id, json.dumps(reading), qos=1)
        c.sync()
    finally:
        c.disconnect()


def local_ids(fleet, shard, prefix):
    """The twin ids with prefix stored in shard's own database (read with twinctl, beside the cluster
    plugin: $twin/search goes to every shard)."""
    twinctl = os.path.join(os.path.dirname(cluster_plugin()), "twinctl")
    ls = subprocess.run([twinctl, "-d", os.path.join(fleet["dir"], "shard%d" % shard), "ls", "--prefix",
                         prefix], capture_output=True, text=True, timeout=30)
    assert ls.returncode == 0, ls.stderr
    return set(ls.stdout.split())


def cluster_sys(port):
    c = Client(port)
    try:
        c.subscribe("$SYS/broker/twin/cluster")
        return json.loads(c.get(desc="$SYS/broker/twin/cluster").payload)
    finally:
        c.disconnect()


def test_haproxy_routes_each_device_to_the_shard_owning_its_slot(fleet):
    prefix = uniq("route") + "-"
    ids = [prefix + str(i) for i in range(60)]
    for twin_id in ids:
        telemetry(fleet["base"], twin_id, {"n": 1})
    expected = {i: {t for t in ids if shard_of(t) == i} for i in (1, 2, 3)}
    assert all(expected.values()), "60 ids should cover every shard"
    for i in fleet["shard"]:
        wait_until(lambda: local_ids(fleet, i, prefix) == expected[i],
                   msg="shard%d holds exactly the ids of its slots" % i)


def test_device_bypassing_haproxy_creates_no_twin_on_a_foreign_shard(fleet):
    twin_id = next(t for t in (uniq("stray") for _ in range(100)) if shard_of(t) == 2)
    before = cluster_sys(fleet["shard"][1])["foreign_telemetry"]
    telemetry(fleet["shard"][1], twin_id, {"n": 1})
    wait_until(lambda: cluster_sys(fleet["shard"][1])["foreign_telemetry"] == before + 1,
               msg="shard1 counts the foreign reading")
    assert twin_id not in local_ids(fleet, 1, twin_id)
    assert twin_id not in local_ids(fleet, 2, twin_id)  # nor was it forwarded


def test_requests_are_answered_alike_by_every_shard(fleet):
    twin_id = uniq("fwd")
    owner = shard_of(twin_id)
    telemetry(fleet["base"], twin_id, {"temp": 21})
    rrs = {i: Requester5(port) for i, port in fleet["shard"].items()}
    try:
        wait_until(lambda: rrs[owner]("$twin/%s/get" % twin_id).status == 200, msg="twin created")
        local = rrs[owner]("$twin/%s/get" % twin_id)
        for i, rr in rrs.items():
            a = rr("$twin/%s/get" % twin_id, corr=b"corr-%d" % i)
            assert (a.status, a.body, a.corr) == (200, local.body, b"corr-%d" % i), "via shard%d" % i
            missing_id = uniq("none")
            assert rr("$twin/%s/get" % missing_id).status == 404
            assert rr("$twin/%s/update" % twin_id, "not json").status == 400
        # a write through one foreign shard is read through the other (the owner orders both)
        foreign = [i for i in rrs if i != owner]
        a = rrs[foreign[0]]("$twin/%s/update" % twin_id, json.dumps({"desired": {"fan": "on"}}))
        assert a.status == 200, a.body
        b = rrs[foreign[1]]("$twin/%s/get" % twin_id)
        assert b.body["desired"] == {"fan": "on"} and b.body["version"] == a.body["version"]
        # forwarded vs local latency, for the README (printed with -s); under request_rate_per_twin
        for label, rr in (("local", rrs[owner]), ("forwarded", rrs[foreign[0]])):
            time.sleep(1.0)
            t0 = time.monotonic()
            for _ in range(80):
                assert rr("$twin/%s/get" % twin_id).status == 200
            print("%s GET: %.2f ms" % (label, (time.monotonic() - t0) / 80 * 1000))
        wait_until(lambda: cluster_sys(fleet["shard"][owner])["served"] >= 80,
                   msg="the owner counts what it served (reported once a second)")
    finally:
        for rr in rrs.values():
            rr.client.disconnect()


def test_v311_requester_gets_accepted_and_rejected_topics_through_another_shard(fleet):
    twin_id = next(t for t in (uniq("v3") for _ in range(100)) if shard_of(t) == 3)
    telemetry(fleet["base"], twin_id, {"x": 1})
    c = Client(fleet["shard"][1], v5=False)
    try:
        c.subscribe("$twin/%s/get/+" % twin_id)
        c.subscribe("$twin/%s/update/+" % twin_id)
        wait_until(lambda: local_ids(fleet, 3, twin_id) == {twin_id},
                   msg="twin created")
        c.publish("$twin/%s/get" % twin_id, "")
        m = c.get(lambda m: m.topic.startswith("$twin/%s/get/" % twin_id), desc="get answer")
        assert m.topic == "$twin/%s/get/accepted" % twin_id and json.loads(m.payload)["id"] == twin_id
        c.publish("$twin/%s/update" % twin_id, "{")
        m = c.get(lambda m: m.topic.startswith("$twin/%s/update/" % twin_id), desc="update answer")
        assert m.topic == "$twin/%s/update/rejected" % twin_id
    finally:
        c.disconnect()


def test_a_dead_shard_answers_503_at_once_on_the_others(fleet):
    twin_id = next(t for t in (uniq("dead") for _ in range(100)) if shard_of(t) == 3)
    with open(os.path.join(fleet["dir"], "shard3.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    rr = Requester5(fleet["shard"][1])
    try:
        def fast_503():
            t0 = time.monotonic()
            a = rr("$twin/%s/get" % twin_id)
            return a.status == 503 and time.monotonic() - t0 < 1.0
        wait_until(fast_503, msg="503 without waiting for the timeout")
        wait_until(lambda: cluster_sys(fleet["shard"][1])["unreachable"] >= 1,
                   msg="counted as unreachable, not as a timeout")
        other = next(t for t in (uniq("alive") for _ in range(100)) if shard_of(t) == 2)
        assert rr("$twin/%s/get" % other).status == 404  # the other shards carry on
    finally:
        rr.client.disconnect()


def is_cluster_build(path):
    with open(path, "rb") as f:
        return b"mosquitto_twin: cluster shard" in f.read()


def test_a_default_build_refuses_cluster_options(brokers):
    from broker import plugin_path
    if not plugin_path() or is_cluster_build(plugin_path()):
        pytest.skip("TWIN_PLUGIN is not a default (non-cluster) build")
    b = brokers({"cluster_shard": "s1", "cluster_slots": "0-9"}, start=False)
    assert b.start_expect_exit() != 0
    assert "unknown option" in b.log_text() and "cluster_" in b.log_text()


@pytest.mark.parametrize("opts,says", [
    ({"cluster_shard": "s1"}, "cluster_slots"),
    ({"cluster_shard": "s1", "cluster_slots": "0-1024"}, "0..1023"),
    ({"cluster_shard": "s1", "cluster_slots": "9-3"}, "0-341,500"),
    ({"cluster_shard": "s1", "cluster_slots": "0", "cluster_timeout_ms": "0"}, "cluster_timeout_ms"),
    ({"cluster_shard": "s1", "cluster_slots": "0", "cluster_nast": "x"}, "cluster_nats"),
])
def test_a_cluster_build_refuses_a_bad_cluster_config(brokers, monkeypatch, opts, says):
    if missing() and not os.path.exists(cluster_plugin()):
        pytest.skip(missing())
    monkeypatch.setenv("TWIN_PLUGIN", cluster_plugin())
    b = brokers(opts, start=False)
    assert b.start_expect_exit() != 0
    assert says in b.log_text(), b.log_tail()
