"""The README's copy-paste examples, run with the real mosquitto_pub / mosquitto_rr /
mosquitto_sub clients. The commands are taken from README.md itself (the "A 30-second
demo" block and the Observability example); only the port and the twin id are
replaced, so the README cannot drift from what works."""
import json
import os
import re
import shlex
import subprocess

from clients import parse_json, uniq

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.abspath(os.path.join(HERE, "..", "..", "README.md"))
DEMO_PORT = "1884"
DEMO_ID = "rack-12"


def readme_block(after_heading):
    text = open(README, encoding="utf-8").read()
    i = text.index(after_heading)
    m = re.search(r"```sh\n(.*?)```", text[i:], re.S)
    assert m, "no ```sh block after %r in README" % after_heading
    return [l.strip() for l in m.group(1).splitlines()
            if l.strip() and not l.strip().startswith("#")]


def adapt(cmd, port, tid):
    assert "-p %s" % DEMO_PORT in cmd, cmd
    return cmd.replace("-p %s" % DEMO_PORT, "-p %d" % port).replace(DEMO_ID, tid)


def run(cmd, timeout=10):
    """Run one README command line (as a shell would) and return its stdout."""
    argv = shlex.split(cmd)
    if argv[0] == "mosquitto_rr":
        argv += ["-W", "5"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "%s -> rc %d\nstdout: %s\nstderr: %s" % (
        cmd, p.returncode, p.stdout, p.stderr)
    return p.stdout


def test_readme_demo(broker, rr5):
    tid = uniq("rack")
    lines = [adapt(l, broker.port, tid) for l in readme_block("### A 30-second demo")]
    # pub telemetry, rr v5 get, rr 3.1.1 get, sub &, rr update, pub telemetry
    kinds = [shlex.split(l.rstrip("&"))[0] for l in lines]
    assert kinds == ["mosquitto_pub", "mosquitto_rr", "mosquitto_rr", "mosquitto_sub",
                     "mosquitto_rr", "mosquitto_pub"], lines

    telemetry = json.loads(shlex.split(lines[0])[shlex.split(lines[0]).index("-m") + 1])
    assert run(lines[0]) == ""

    out = run(lines[1])
    twin = parse_json(out)
    assert twin["id"] == tid and twin["reported"] == telemetry and twin["version"] == 1

    out = run(lines[2])
    twin311 = parse_json(out)
    assert twin311["id"] == tid and twin311["reported"] == telemetry

    sub_line = next(l for l in lines if l.startswith("mosquitto_sub"))
    assert sub_line.endswith("&")
    sub_argv = shlex.split(sub_line[:-1]) + ["-C", "2", "-W", "10"]
    sub = subprocess.Popen(sub_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert broker.wait_log("devices/%s/desired" % tid), "mosquitto_sub did not subscribe"
        upd_line = next(l for l in lines if "/update" in l)
        ans = parse_json(run(upd_line))
        req = json.loads(shlex.split(upd_line)[shlex.split(upd_line).index("-m") + 1])
        assert ans["token"] == req["token"]
        assert ans["desired"] == req["desired"] == ans["delta"]
        tel_last = lines[-1]
        assert tel_last.startswith("mosquitto_pub") and "telemetry" in tel_last
        assert run(tel_last) == ""
        out, err = sub.communicate(timeout=15)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.communicate()
    got = out.splitlines()
    assert len(got) == 2, (out, err)
    topic, _, payload = got[0].partition(" ")
    assert topic == "devices/%s/desired" % tid
    msg = parse_json(payload)
    assert msg == {"id": tid, "version": ans["version"], "delta": req["desired"]}
    # the clearing message is empty
    # (mosquitto_sub -v prints an empty payload as "(null)")
    assert got[1].strip() in ("devices/%s/desired" % tid, "devices/%s/desired (null)" % tid)
    t = rr5.twin(tid)
    assert t["delta"] == {} and t["desired"] == req["desired"]


def test_readme_stats_command(broker):
    lines = [l for l in readme_block("## Observability")]
    assert len(lines) == 1 and "$twin/stats" in lines[0]
    stats = parse_json(run(adapt(lines[0], broker.port, "unused")))
    assert isinstance(stats["twins"], int) and stats["map_size"] > 0


def test_rr_v5_correlation_and_status_property(broker, rr5):
    tid = uniq("cli-corr")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    out = run("mosquitto_rr -p %d -V 5 -t '$twin/%s/get' -e replies/me "
              "-D publish correlation-data c1 -n -F '%%t|%%D|%%P|%%p'" % (broker.port, tid))
    topic, corr, props, payload = out.strip().split("|", 3)
    assert topic == "replies/me"
    assert corr == "c1"
    assert "status:200" in props
    assert parse_json(payload)["id"] == tid


def test_readme_install_command_installs_what_ci_installs():
    """The quick start's apt-get line and .ci/run install the same packages (so the README's second
    command, the test suite, finds everything on a fresh Debian 12)."""
    install = readme_block("## Quick start")[0]
    readme = set(re.search(r"apt-get install -y ([^&]+)&&", install).group(1).split())
    ci = open(os.path.join(HERE, "..", "..", ".ci", "run")).read()
    ci_packages = set(re.search(r"packages=\(([^)]*)\)", ci).group(1).split())
    assert ci_packages <= readme, "in .ci/run but not in the README: %s" % sorted(ci_packages - readme)
    assert "nodejs npm" in install and "packages+=(nodejs npm)" in ci
