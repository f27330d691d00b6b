"""The deployment files stay in step with each other and with the plugin (no Docker engine here, so
nothing is built): the image's mosquitto.conf and the Kubernetes ConfigMap's run in a real mosquitto
with the built plugin (only the paths and ports are replaced) and answer $twin requests; the ports
the Dockerfile exposes, compose publishes, the Service opens and the configs listen on agree; the
volume is mounted where the store lives; the StatefulSet keeps one replica; the demo's dashboard
listener listens on loopback only."""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest
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
    # socket_domain ipv4: a websockets listener binds the address it names only with it (2.0.11)
    conf = re.sub(r"(?m)^listener 8080 0\.0\.0\.0$", "listener %d 127.0.0.1\nsocket_domain ipv4" % ws, conf)
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


def demo_websockets_lines():
    """The demo's (build/demo.conf, made by cmake next to the plugin) websockets listener: its listener
    line and the lines after it up to the next blank or comment line."""
    path = os.path.join(os.path.dirname(plugin_path()), "demo.conf")
    if not os.path.isfile(path):
        pytest.skip("no demo.conf beside the plugin (%s)" % path)
    lines = open(path).read().splitlines()
    start = [i for i, line in enumerate(lines) if line.startswith("listener 8080")]
    if not start:
        pytest.skip("the demo has no dashboard listener (npm was not found when the build was configured)")
    block = []
    for line in lines[start[0]:]:
        if not line.strip() or line.startswith("#"):
            break
        block.append(line)
    assert "protocol websockets" in block, block
    return block


def listening(port):
    """The local addresses of the sockets listening on TCP port, from `ss -ltn`."""
    out = subprocess.run(["ss", "-Htln", "sport = :%d" % port], capture_output=True, text=True,
                         check=True).stdout
    return [line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()]


def other_addresses():
    """This machine's addresses that are not loopback (nor IPv6 link-local), from `ip -o addr`."""
    try:
        out = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    found = []
    for line in out.splitlines():
        f = line.split()
        family, addr = f[2], f[3].split("/")[0]
        if family == "inet" and not addr.startswith("127."):
            found.append((socket.AF_INET, addr))
        elif family == "inet6" and addr != "::1" and not addr.startswith("fe80"):
            found.append((socket.AF_INET6, addr))
    return found


def test_demo_dashboard_listener_listens_on_loopback_only(tmp_path):
    """The demo says `listener 8080 127.0.0.1` for the dashboard; Mosquitto 2.0.11 binds a websockets
    listener to every address unless `socket_domain ipv4` follows (README, "Serving it from your
    broker"). Started with the demo's lines (on free ports), it must listen on 127.0.0.1 alone."""
    if shutil.which("ss") is None:
        pytest.skip("ss not found (apt-get install iproute2)")
    mqtt, ws = free_port(), free_port()
    block = [re.sub(r"^listener 8080\b", "listener %d" % ws, line) for line in demo_websockets_lines()]
    block = ["http_dir %s" % tmp_path if line.startswith("http_dir ") else line for line in block]
    conf = ["listener %d 127.0.0.1" % mqtt, "allow_anonymous true", "log_dest stdout"] + block
    if os.geteuid() == 0:
        conf.append("user root")
    (tmp_path / "mosquitto.conf").write_text("\n".join(conf) + "\n")
    with open(tmp_path / "broker.log", "w") as log:
        proc = subprocess.Popen([mosquitto_binary(), "-c", str(tmp_path / "mosquitto.conf")], stdout=log,
                                stderr=subprocess.STDOUT, env=broker_env(websockets=True))
    try:
        deadline = time.time() + 10
        while not listening(ws):
            assert proc.poll() is None and time.time() < deadline, (tmp_path / "broker.log").read_text()
            time.sleep(0.05)
        assert listening(ws) == ["127.0.0.1"], "the dashboard port listens on %s" % listening(ws)
        for family, addr in other_addresses():     # and from the network it is closed
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                assert s.connect_ex((addr, ws)) != 0, "port %d is open on %s" % (ws, addr)
    finally:
        proc.terminate()
        proc.wait(10)
