"""The deployment files stay in step with each other and with the plugin (no Docker engine here, so
nothing is built): the image's mosquitto.conf and the Kubernetes ConfigMap's run in a real mosquitto
with the built plugin (only the paths and ports are replaced) and answer $twin requests; the ports
the Dockerfile exposes, compose publishes, the Service opens and the configs listen on agree; the
volume is mounted where the store lives; the StatefulSet keeps one replica."""
import os
import re
import subprocess
import time

import yaml

from broker import SANITIZER_MARKERS, broker_env, free_port, mosquitto_binary, plugin_path
from clients import Requester5

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOCKER = os.path.join(REPO, "docker")


def read(*parts):
    with open(os.path.join(REPO, *parts)) as f:
        return f.read()


def k8s_docs():
    return {d["kind"]: d for d in yaml.safe_load_all(read("docker", "kubernetes", "mosquitto-twin.yaml"))}


def listener_ports(conf):
    return sorted(int(m) for m in re.findall(r"(?m)^listener (\d+)", conf))


def run_conf(conf, tmp_path):
    """Starts mosquitto on conf with local paths and free ports; returns the MQTT port and the process."""
    mqtt, ws = free_port(), free_port()
    conf = conf.replace("/usr/lib/mosquitto/mosquitto_twin.so", plugin_path())
    conf = conf.replace("/var/lib/mosquitto/twin", str(tmp_path / "db"))
    conf = conf.replace("/usr/share/mosquitto-twin/dashboard", str(tmp_path))
    conf = re.sub(r"(?m)^listener 1883 0\.0\.0\.0$", "listener %d 127.0.0.1" % mqtt, conf)
    conf = re.sub(r"(?m)^listener 8080 0\.0\.0\.0$", "listener %d 127.0.0.1" % ws, conf)
    conf += "\nuser root\n" if os.geteuid() == 0 else "\n"
    path = tmp_path / "mosquitto.conf"
    path.write_text(conf)
    log = open(tmp_path / "broker.log", "w")
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(path)], stdout=log, stderr=subprocess.STDOUT,
                            env=broker_env(websockets=True))
    return mqtt, proc, log


def check_serves_twins(conf, tmp_path):
    port, proc, log = run_conf(conf, tmp_path)
    try:
        deadline = time.time() + 10
        while True:
            assert proc.poll() is None, "mosquitto refused the config:\n" + (tmp_path / "broker.log").read_text()
            try:
                r = Requester5(port)
                break
            except Exception:
                assert time.time() < deadline, "no listener:\n" + (tmp_path / "broker.log").read_text()
                time.sleep(0.1)
        try:
            assert r.ok("$twin/deploy-check/update", {"attributes": {"a": 1}})["version"] == 1
            assert r.stats()["twins"] == 1
        finally:
            r.close()
    finally:
        proc.terminate()
        rc = proc.wait(10)
        log.close()
    text = (tmp_path / "broker.log").read_text()
    assert rc == 0 and not any(m in text for m in SANITIZER_MARKERS), text[-3000:]


def test_image_config_serves_twins(tmp_path):
    check_serves_twins(read("docker", "mosquitto.conf"), tmp_path)


def test_kubernetes_config_serves_twins(tmp_path):
    check_serves_twins(k8s_docs()["ConfigMap"]["data"]["mosquitto.conf"], tmp_path)


def test_ports_volume_and_replicas_agree():
    image_conf = read("docker", "mosquitto.conf")
    k8s = k8s_docs()
    ports = listener_ports(image_conf)
    assert ports == [1883, 8080]
    exposed = re.search(r"(?m)^EXPOSE (.*)$", read("docker", "Dockerfile")).group(1).split()
    assert sorted(int(p) for p in exposed) == ports
    compose = yaml.safe_load(read("docker", "compose.yaml"))
    broker = compose["services"]["broker"]
    assert sorted(int(p.split(":")[1]) for p in broker["ports"]) == ports
    assert "twin-data:/var/lib/mosquitto" in broker["volumes"]
    assert listener_ports(k8s["ConfigMap"]["data"]["mosquitto.conf"]) == ports
    assert sorted(p["targetPort"] for p in k8s["Service"]["spec"]["ports"]) == ports
    sts = k8s["StatefulSet"]["spec"]
    assert sts["replicas"] == 1
    mounts = {m["name"]: m["mountPath"] for m in sts["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["twin-data"] == "/var/lib/mosquitto"
    for conf in (image_conf, k8s["ConfigMap"]["data"]["mosquitto.conf"]):
        assert "plugin_opt_db_path /var/lib/mosquitto/twin" in conf
        assert "per_listener_settings false" in conf and "set_tcp_nodelay true" in conf
    assert sts["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
