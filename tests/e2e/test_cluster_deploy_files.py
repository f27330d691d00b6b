"""The cluster's deployment files (docker/cluster/, docker/kubernetes/cluster.yaml) agree with each other
and with cluster/local.sh, and run (no Docker engine or Kubernetes here, so nothing is built or
deployed): shard-entrypoint.sh gives each shard the slot range slots.map routes to it; the HAProxy and
NATS configurations pass `haproxy -c` and `nats-server -t`; a shard configured by the entrypoint runs in
a real mosquitto with the cluster build of the plugin, next to a real nats-server, and owns its slots.
"""
import os
import re
import shutil
import subprocess
import time
import zlib

import pytest
import yaml

from broker import REPO, broker_env, free_port, mosquitto_binary
from clients import Client, Requester5, wait_until
from test_cluster_routing import RANGES, cluster_plugin, cluster_sys, missing

CLUSTER = os.path.join(REPO, "docker", "cluster")
ENTRYPOINT = os.path.join(CLUSTER, "shard-entrypoint.sh")


def read(*parts):
    with open(os.path.join(REPO, *parts)) as f:
        return f.read()


def entrypoint(env, *args):
    return subprocess.run([ENTRYPOINT, *args], env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True)


def entry_range(index, count=3):
    out = entrypoint({"TWIN_SHARD_INDEX": str(index), "TWIN_SHARD_COUNT": str(count)}, "--print")
    assert out.returncode == 0, out.stderr
    lo, hi = re.search(r"(?m)^plugin_opt_cluster_slots (\d+)-(\d+)$", out.stdout).groups()
    return int(lo), int(hi)


def slots_map(text):
    return {int(s): b for s, b in (line.split() for line in text.splitlines() if line and line[0] != "#")}


def k8s_docs():
    return {(d["kind"], d["metadata"]["name"]): d
            for d in yaml.safe_load_all(read("docker", "kubernetes", "cluster.yaml"))}


def test_entrypoint_ranges_match_local_sh_and_the_map():
    assert [entry_range(i) for i in (1, 2, 3)] == RANGES
    routed = slots_map(read("docker", "cluster", "slots.map"))
    assert sorted(routed) == list(range(1024))
    for i, (lo, hi) in enumerate(RANGES, 1):
        assert {s for s, b in routed.items() if b == "shard%d" % i} == set(range(lo, hi + 1))
    # any count splits the slots with no gap and no overlap
    for count in (1, 2, 5, 7):
        ranges = [entry_range(i, count) for i in range(1, count + 1)]
        assert ranges[0][0] == 0 and ranges[-1][1] == 1023
        assert all(ranges[k][1] + 1 == ranges[k + 1][0] for k in range(count - 1))


def test_entrypoint_takes_the_statefulset_ordinal_and_refuses_what_it_cannot_place():
    out = entrypoint({"HOSTNAME": "twin-shard-1", "TWIN_SHARD_COUNT": "3"}, "--print")
    assert out.returncode == 0 and "plugin_opt_cluster_shard shard2\n" in out.stdout
    out = entrypoint({"HOSTNAME": "broker", "TWIN_SHARD_COUNT": "3"}, "--print")
    assert out.returncode == 2 and "TWIN_SHARD_INDEX" in out.stderr
    out = entrypoint({"TWIN_SHARD_INDEX": "4", "TWIN_SHARD_COUNT": "3"}, "--print")
    assert out.returncode == 2 and "outside 1..3" in out.stderr


def test_compose_and_kubernetes_agree():
    compose = yaml.safe_load(read("docker", "cluster", "compose.yaml"))["services"]
    shards = sorted(k for k in compose if k.startswith("shard"))
    assert shards == ["shard1", "shard2", "shard3"]
    for name in shards:
        env = compose[name]["environment"]
        assert "shard%s" % env["TWIN_SHARD_INDEX"] == name and env["TWIN_SHARD_COUNT"] == "3"
        assert compose[name]["build"]["args"]["TWIN_CLUSTER"] == "ON"
        assert set(compose[name]["depends_on"]) == {"n1", "n2", "n3"}
    hx = read("docker", "cluster", "haproxy.cfg")
    assert re.findall(r"(?m)^backend (shard\d+)$", hx) == shards
    k8s = k8s_docs()
    sts = k8s[("StatefulSet", "twin-shard")]["spec"]
    env = {e["name"]: e.get("value") for e in sts["template"]["spec"]["containers"][0]["env"]}
    assert sts["replicas"] == int(env["TWIN_SHARD_COUNT"]) == len(shards)
    assert k8s[("StatefulSet", "twin-nats")]["spec"]["replicas"] == 3
    data = k8s[("ConfigMap", "twin-haproxy")]["data"]
    assert slots_map(data["slots.map"]) == slots_map(read("docker", "cluster", "slots.map"))
    # the same HAProxy text, the shards found by their pod names instead of their compose names
    same = hx.split("\nglobal\n", 1)[1]
    for i in (1, 2, 3):
        same = same.replace("shard%d:1883" % i, "twin-shard-%d.twin-shard:1883" % (i - 1))
    assert data["haproxy.cfg"] == "global\n" + same
    assert "--build-arg TWIN_CLUSTER=ON" in read("docker", "Dockerfile")


@pytest.mark.skipif(not (shutil.which("haproxy") or os.path.exists("/usr/sbin/haproxy")),
                    reason="haproxy is not installed (apt-get install haproxy)")
def test_haproxy_configs_are_valid(tmp_path):
    map_path = tmp_path / "slots.map"
    map_path.write_text(read("docker", "cluster", "slots.map"))
    for name, text in (("compose", read("docker", "cluster", "haproxy.cfg")),
                       ("kubernetes", k8s_docs()[("ConfigMap", "twin-haproxy")]["data"]["haproxy.cfg"])):
        text = text.replace("/usr/local/etc/haproxy/slots.map", str(map_path))
        text = text.replace("/var/lib/haproxy/admin.sock", str(tmp_path / "admin.sock"))
        cfg = tmp_path / ("%s.cfg" % name)
        cfg.write_text(text)
        out = subprocess.run([shutil.which("haproxy") or "/usr/sbin/haproxy", "-c", "-f", str(cfg)],
                             capture_output=True, text=True)
        assert out.returncode == 0 and "Configuration file is valid" in out.stdout, (name, out.stderr)


@pytest.mark.skipif(not (shutil.which("nats-server") or os.path.exists("/usr/sbin/nats-server")),
                    reason="nats-server is not installed (apt-get install nats-server)")
def test_nats_configs_are_valid(tmp_path):
    nats = shutil.which("nats-server") or "/usr/sbin/nats-server"
    for name, text, var in (("compose", read("docker", "cluster", "nats.conf"), "NATS_NAME"),
                            ("kubernetes", k8s_docs()[("ConfigMap", "twin-nats")]["data"]["nats.conf"],
                             "POD_NAME")):
        conf = tmp_path / ("%s.conf" % name)
        conf.write_text(text.replace("/data", str(tmp_path / name)))
        out = subprocess.run([nats, "-c", str(conf), "-t"], capture_output=True, text=True,
                             env={**os.environ, var: "n1"})
        assert out.returncode == 0 and "is valid" in out.stdout + out.stderr, (name, out.stderr)


def test_a_shard_configured_by_the_entrypoint_runs_and_owns_its_slots(tmp_path):
    why = missing()
    if why:
        pytest.skip(why)
    nats_port, mqtt = free_port(), free_port()
    nats = subprocess.Popen([shutil.which("nats-server") or "/usr/sbin/nats-server", "-a", "127.0.0.1",
                             "-p", str(nats_port), "-js", "-sd", str(tmp_path / "js")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = entrypoint({"TWIN_SHARD_INDEX": "2", "TWIN_SHARD_COUNT": "3", "TWIN_EVENTS_REPLICAS": "1",
                      "TWIN_NATS": "nats://127.0.0.1:%d" % nats_port}, "--print")
    assert out.returncode == 0, out.stderr
    conf = out.stdout.replace("/usr/lib/mosquitto/mosquitto_twin.so", cluster_plugin())
    conf = conf.replace("/var/lib/mosquitto/twin", str(tmp_path / "db"))
    conf = conf.replace("listener 1883 0.0.0.0", "listener %d 127.0.0.1" % mqtt)
    conf += "user root\n" if os.geteuid() == 0 else ""
    (tmp_path / "shard.conf").write_text(conf)
    log = open(tmp_path / "shard.log", "w")
    proc = subprocess.Popen(["stdbuf", "-oL", mosquitto_binary(), "-c", str(tmp_path / "shard.conf")],
                            stdout=log,
                            stderr=subprocess.STDOUT, env=broker_env())
    try:
        wait_until(lambda: "running" in (tmp_path / "shard.log").read_text() or proc.poll() is not None,
                   msg="the shard's start")
        text = (tmp_path / "shard.log").read_text()
        assert proc.poll() is None and "cluster shard shard2: slots 342-682 of 1024" in text, text
        own = next("rack-%d" % n for n in range(10000)
                   if 342 <= zlib.crc32(b"rack-%d" % n) % 1024 <= 682)
        dev = Client(mqtt, client_id=own)
        r = Requester5(mqtt)
        try:
            wait_until(lambda: dev.is_connected(), msg="the device's connection")
            dev.publish("devices/%s/telemetry" % own, '{"tempTop": 24.5}', qos=1)
            wait_until(lambda: r.get(own).status == 200, msg="the owned twin")
            assert r.twin(own)["reported"]["tempTop"] == 24.5
            # its change event reached the JetStream stream the shard created (README, Events on JetStream)
            wait_until(lambda: cluster_sys(mqtt).get("events_published", 0) >= 1, msg="the event in JetStream")
        finally:
            dev.disconnect()
            r.close()
    finally:
        proc.terminate()
        rc = proc.wait(10)
        log.close()
        nats.terminate()
        nats.wait(10)
    assert rc == 0, (tmp_path / "shard.log").read_text()[-3000:]
