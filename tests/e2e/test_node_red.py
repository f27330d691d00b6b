"""The Node-RED example flow (examples/node-red/twin-flow.json) in a real, headless Node-RED 4
against a broker with the plugin: GET /twin/:id reads a twin through the stock mqtt out / mqtt in
nodes (MQTT v5 response topic + correlation data), POST /twin/:id/desired sets desired state (the
device gets its delta), and a rack whose tempTop goes over 30 gets fanSpeed 5 from the event flow.
Node-RED comes from the npm registry (npm_packages.py); the test is skipped, saying why, where node
or npm is missing."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import npm_packages
from broker import free_port
from clients import Requester5, Subscriber, parse_json, publish_as, uniq, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
FLOW = os.path.abspath(os.path.join(HERE, "..", "..", "examples", "node-red", "twin-flow.json"))
NODE_RED_VERSION = "4.1.15"   # node-red 5 needs Node >= 22.9


def node_red_dir():
    if npm_packages.node_missing():
        pytest.skip(npm_packages.node_missing())
    return npm_packages.package("node-red", NODE_RED_VERSION)


def http(method, url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, parse_json(r.read())
    except urllib.error.HTTPError as e:
        return e.code, parse_json(e.read())


@pytest.fixture
def node_red(broker, tmp_path):
    d = node_red_dir()
    port = free_port()
    with open(FLOW) as f:
        flow = json.load(f)
    for n in flow:
        if n["type"] == "mqtt-broker":
            n["port"] = str(broker.port)
    (tmp_path / "flows.json").write_text(json.dumps(flow))
    (tmp_path / "settings.js").write_text(
        "module.exports = {uiHost: '127.0.0.1', uiPort: %d, flowFile: 'flows.json', httpNodeRoot: '/api',"
        " credentialSecret: false, editorTheme: {tours: false}, logging: {console: {level: 'info'}}};\n"
        % port)
    log = open(tmp_path / "node-red.log", "w")
    proc = subprocess.Popen(["node", os.path.join(d, "node_modules", "node-red", "red.js"),
                             "--userDir", str(tmp_path), "--settings", str(tmp_path / "settings.js")],
                            stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:%d/api" % port

    def ready():
        text = (tmp_path / "node-red.log").read_text()
        assert proc.poll() is None, "Node-RED exited:\n" + text[-3000:]
        return "Connected to broker" in text

    try:
        wait_until(ready, timeout=60, msg="Node-RED started and connected to the broker")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_flow_reads_a_twin_sets_desired_and_reacts_to_events(broker, node_red):
    tid = uniq("nr-rack")
    r = Requester5(broker.port)
    device = Subscriber(broker.port, f"devices/{tid}/desired")
    try:
        status, body = http("GET", f"{node_red}/twin/{tid}")
        assert status == 404 and "not found" in body["error"], (status, body)
        publish_as(broker.port, f"devices/{tid}/telemetry", {"tempTop": 24.5, "fanSpeed": 2}, client_id=tid)
        status, body = http("GET", f"{node_red}/twin/{tid}")
        assert status == 200 and body["id"] == tid and body["reported"]["tempTop"] == 24.5, body
        # set desired state over HTTP; the device gets the delta
        status, body = http("POST", f"{node_red}/twin/{tid}/desired", {"fanSpeed": 3})
        assert status == 200 and body["desired"] == {"fanSpeed": 3} and body["delta"] == {"fanSpeed": 3}
        assert parse_json(device.get().payload)["delta"] == {"fanSpeed": 3}
        assert r.twin(tid)["desired"] == {"fanSpeed": 3}
        # a hot rack: the event flow raises its fan
        publish_as(broker.port, f"devices/{tid}/telemetry", {"tempTop": 31.5}, client_id=tid)
        wait_until(lambda: r.twin(tid)["desired"].get("fanSpeed") == 5, timeout=10,
                   msg="Node-RED to set fanSpeed 5 for the hot rack")
        assert parse_json(device.get(lambda m: b'"fanSpeed":5' in m.payload).payload)["delta"] == {"fanSpeed": 5}
    finally:
        device.close()
        r.close()
