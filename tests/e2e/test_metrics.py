"""Metrics reports: retained $SYS/broker/twin/<name> messages every sys_interval seconds
(only changed values after the first report), the Prometheus text file (metrics_file),
sys_interval 0, and an unwritable metrics file (one warning, the broker keeps serving)."""
import json
import os
import re
import time

from clients import Requester5, Subscriber, publish_as, uniq, wait_until

SYS = "$SYS/broker/twin/"


def sys_values(sub):
    """The figures of the $SYS tree ($SYS/broker/twin/version is the one text, like $twin/stats' version)."""
    return {m.topic[len(SYS):]: m.payload.decode() if m.topic == SYS + "version" else int(m.payload)
            for m in sub.messages() if m.topic.startswith(SYS)}


def prom_values(path):
    values, types = {}, {}
    with open(path) as f:
        for line in f:
            m = re.match(r"# TYPE (\S+) (counter|gauge)$", line)
            if m:
                types[m.group(1)] = m.group(2)
            elif not line.startswith("#"):
                name, value = line.split()
                values[name] = int(value)
    return values, types


def test_sys_tree_and_prometheus_file_follow_the_stats(brokers, tmp_path):
    prom = str(tmp_path / "twin.prom")
    b = brokers({"sys_interval": 1, "metrics_file": prom})
    r = brokers.track(Requester5(b.port))
    sub = brokers.track(Subscriber(b.port, SYS + "#"))
    figures = set(r.stats())
    wait_until(lambda: set(sys_values(sub)) == figures, msg="the $SYS tree to have every figure of $twin/stats")
    first = sys_values(sub)
    assert all(m.retain for m in sub.messages() if m.topic.startswith(SYS)), "retained, like $SYS"
    tid = uniq("met")
    for n in range(3):
        publish_as(b.port, f"devices/{tid}/telemetry", {"n": n}, client_id=tid)
    r.twin(tid)
    wait_until(lambda: sys_values(sub).get("telemetry_applied", 0) >= first["telemetry_applied"] + 3,
               timeout=5, msg="$SYS/broker/twin/telemetry_applied to follow")
    assert sys_values(sub)["twins"] >= first["twins"] + 1
    assert sys_values(sub)["db_bytes"] > 0
    # a late subscriber gets the whole tree at once (retained)
    late = brokers.track(Subscriber(b.port, SYS + "#"))
    wait_until(lambda: set(sys_values(late)) == set(first), msg="retained $SYS values")
    # the Prometheus file: counters end in _total, gauges do not; values match the stats
    wait_until(lambda: os.path.exists(prom) and
               prom_values(prom)[0].get("mosquitto_twin_telemetry_applied_total", 0)
               >= first["telemetry_applied"] + 3, timeout=5, msg="the metrics file to follow")
    values, types = prom_values(prom)
    assert types["mosquitto_twin_telemetry_received_total"] == "counter"
    assert types["mosquitto_twin_twins"] == "gauge"
    assert types["mosquitto_twin_commit_us_total"] == "counter"
    s = r.stats()
    assert values["mosquitto_twin_map_size"] == s["map_size"]
    assert values["mosquitto_twin_commits_total"] <= s["commits"]
    assert not os.path.exists(prom + ".tmp")


def test_only_changed_values_are_published_again(brokers):
    b = brokers({"sys_interval": 1})
    sub = brokers.track(Subscriber(b.port, SYS + "#"))
    wait_until(lambda: "db_bytes" in sys_values(sub), msg="the first $SYS report (db_bytes comes last)")
    time.sleep(2.5)   # two more reports with nothing happening
    counts = {}
    for m in sub.messages():
        counts[m.topic] = counts.get(m.topic, 0) + 1
    assert counts[SYS + "store_full"] == 1, "an unchanged value was published again"


def test_sys_interval_0_reports_nothing(brokers, tmp_path):
    prom = str(tmp_path / "none.prom")
    b = brokers({"sys_interval": 0, "metrics_file": prom})
    sub = brokers.track(Subscriber(b.port, SYS + "#"))
    r = brokers.track(Requester5(b.port))
    r.stats()
    sub.sync()
    assert sys_values(sub) == {}
    assert not os.path.exists(prom)


def test_unwritable_metrics_file_is_logged_once_and_harmless(brokers, tmp_path):
    prom = str(tmp_path / "no-such-dir" / "twin.prom")
    b = brokers({"sys_interval": 1, "metrics_file": prom})
    r = brokers.track(Requester5(b.port))
    time.sleep(2.5)
    assert r.stats()["twins"] == 0
    assert b.log_text().count("plugin_opt_metrics_file") == 1, b.log_tail()


def test_grafana_dashboard_uses_only_metrics_the_file_has(brokers, tmp_path):
    prom = str(tmp_path / "twin.prom")
    brokers({"sys_interval": 1, "metrics_file": prom})
    wait_until(lambda: os.path.exists(prom), msg="the metrics file")
    have = set(prom_values(prom)[0])
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "docker", "grafana-dashboard.json")) as f:
        dashboard = json.load(f)
    used = {name for p in dashboard["panels"] for t in p["targets"]
            for name in re.findall(r"mosquitto_twin_\w+", t["expr"])}
    assert len(used) >= 10
    assert used <= have, "the dashboard queries metrics the plugin does not write: %s" % (used - have)
