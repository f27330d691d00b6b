"""The README's "Clients in code" examples, run as they are: the Python (paho-mqtt) and
the JavaScript (MQTT.js) block are taken from README.md, only the port and the twin id are
replaced, and their output is checked against the twin. MQTT.js comes from the npm registry
(npm_packages.py); the JavaScript test is skipped, saying why, where node or npm is missing."""
import os
import re
import subprocess

import pytest

import npm_packages
from clients import Requester5, uniq

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.abspath(os.path.join(HERE, "..", "..", "README.md"))
MQTTJS_VERSION = "5.16.0"   # as dashboard/make-site.sh pins it


def readme_code(heading, lang):
    text = open(README, encoding="utf-8").read()
    i = text.index(heading)
    m = re.search(r"```%s\n(.*?)```" % lang, text[i:], re.S)
    assert m, "no ```%s block after %r in README" % (lang, heading)
    return m.group(1)


def adapt(code, port, tid):
    assert "1884" in code and "rack-12" in code
    return code.replace("1884", str(port)).replace("rack-12", tid)


def run(cmd, cwd, timeout=60):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "%s failed (%d):\n%s\n%s" % (cmd[0], p.returncode, p.stdout, p.stderr)
    return p.stdout


def test_python_example(broker, tmp_path):
    tid = uniq("ex-py")
    script = tmp_path / "app.py"
    script.write_text(adapt(readme_code("### Python (paho-mqtt)", "python"), broker.port, tid))
    out = run(["/usr/bin/python3", str(script)], str(tmp_path)).splitlines()
    answers = [l for l in out if not l.startswith("event:")]
    assert answers == ["200 version 1 delta {'fanSpeed': 3}", "200 reported {} desired {'fanSpeed': 3}", "200 version 2",
                           "409 version conflict: twin '%s' is at version 2, the request expected 1" % tid], out
    assert any(l.startswith("event:") and '"fanSpeed":3' in l for l in out), out
    r = Requester5(broker.port)
    try:
        assert r.twin(tid)["desired"] == {"fanSpeed": 4}
    finally:
        r.close()


def test_javascript_example(broker):
    if npm_packages.node_missing():
        pytest.skip(npm_packages.node_missing())
    d = npm_packages.package("mqtt", MQTTJS_VERSION)
    tid = uniq("ex-js")
    script = os.path.join(d, "app-%s.mjs" % tid)      # beside node_modules, so `import "mqtt"` resolves
    with open(script, "w") as f:
        f.write(adapt(readme_code("### JavaScript (MQTT.js)", "js"), broker.port, tid))
    try:
        out = run(["node", script], d).splitlines()
    finally:
        os.remove(script)
    answers = [l for l in out if not l.startswith("event:")]
    # the only twin at site ams-1 in this module's broker
    assert answers == ["200 version 1", '200 attributes {"site":"ams-1","row":"B"}', "200 found " + tid], out
    assert any(l.startswith("event:") and tid in l for l in out), out
