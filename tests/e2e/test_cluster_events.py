"""Fleet-wide events (README, "Scaling out", "Events on JetStream"): cluster/local.sh's 3 shards publish
every twin change to the replicated JetStream stream TWIN_EVENTS on 3 NATS nodes, read back here with
the twin-events consumer (libnats, built beside the cluster plugin). Changes on every shard arrive once
each, in version order per twin, with the same JSON as $twin/{id}/events; a consumer starts at a
sequence, a time or now; kill -9 of the stream's leader node while telemetry flows loses no event.
Also prints events/s through JetStream beside the telemetry rate without it (not asserted).

Needs what test_cluster_routing.py needs (haproxy, nats-server, a -DTWIN_CLUSTER=ON plugin) and
build-cluster/twin-events beside that plugin; skipped, saying which is missing, otherwise.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import zlib
from collections import defaultdict

import pytest

from broker import free_port, plugin_path
from clients import RawClient, Requester5, Subscriber, TelemetryFlow, _rl, _s, uniq, wait_until
from test_cluster_routing import (cluster_plugin, cluster_sys, fleet, is_cluster_build, missing,  # noqa: F401
                                  shard_of, telemetry)

SLOTS = 1024
SETTLE = 20  # seconds for every event to reach the stream once the load stops


def consumer():
    return os.path.join(os.path.dirname(cluster_plugin()), "twin-events")


@pytest.fixture(scope="module")
def events_fleet(fleet):  # noqa: F811
    if not os.path.exists(consumer()):
        pytest.skip("no %s (built with -DTWIN_CLUSTER=ON)" % consumer())
    fleet["nats"] = ["nats://127.0.0.1:%d" % (fleet["base"] + 10 + i) for i in (1, 2, 3)]
    return fleet


def read_stream(fl, *args, may_fail=False):
    """Every event stored now, as the consumer prints them (one JSON object a line), from any NATS node
    still up; None when it cannot read the stream (yet) and may_fail."""
    nats = [a for u in fl["nats"] for a in ("--nats", u)]
    out = subprocess.run([consumer()] + nats + list(args),
                         capture_output=True, text=True, timeout=60)
    if may_fail and out.returncode != 0:
        return None
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def token(twin_id):
    """The subject token of an id: bytes other than letters, digits and -_:=@~+,;! as %XX."""
    keep = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:=@~+,;!")
    return "".join(chr(b) if b in keep else "%%%02X" % b for b in twin_id.encode())


def versions(fl, prefix):
    """{id: version} of every twin with prefix, from the shards that own them."""
    out = {}
    for port in fl["shard"].values():
        rr = Requester5(port)
        try:
            q = {"filter": 'like(id,"%s*")' % prefix, "limit": 200, "fields": ["id", "version"]}
            while True:
                a = rr("$twin/search", json.dumps(q))
                assert a.status == 200, a.body
                out.update({t["id"]: t["version"] for t in a.body["items"]})
                if "cursor" not in a.body:
                    break
                q["cursor"] = a.body["cursor"]
        finally:
            rr.client.disconnect()
    return out


def by_twin(events, prefix):
    got = defaultdict(list)
    for e in events:
        if e["event"]["id"].startswith(prefix):
            got[e["event"]["id"]].append(e)
    return got


def all_stored(fl, prefix, deleted=None):
    """Once every change of the prefix's twins (and of the deleted ones, {id: version of the delete}) is
    in the stream: {id: [its events in stream order]}."""
    def done():
        want = dict(versions(fl, prefix), **(deleted or {}))
        got = by_twin(read_stream(fl, may_fail=True) or [], prefix)
        return got if {i: evs[-1]["event"]["version"] for i, evs in got.items()} == want else None
    return wait_until(done, timeout=SETTLE, interval=0.5, msg="every version in the stream")


def assert_once_in_order(got):
    ids = [e["msg_id"] for evs in got.values() for e in evs]
    assert len(ids) == len(set(ids)), "a message id twice in the stream"
    for twin_id, evs in got.items():
        vs = [e["event"]["version"] for e in evs]
        assert vs == list(range(1, len(vs) + 1)), "%s: versions %s" % (twin_id, vs)
        for e in evs:
            assert e["msg_id"] == "%s:%d" % (token(twin_id), e["event"]["version"])
            slot = zlib.crc32(twin_id.encode()) % SLOTS
            assert e["subject"] == "twin.events.%d.%s" % (slot, token(twin_id))


def test_changes_on_every_shard_reach_a_consumer_once_in_version_order(events_fleet):
    fl = events_fleet
    prefix = uniq("ev") + "-"
    ids = [prefix + str(i) for i in range(24)] + [prefix + "odd.id %*>\u00e9"]
    assert {shard_of(t) for t in ids} == {1, 2, 3}
    watchers = {i: Subscriber(port, "$twin/+/events") for i, port in fl["shard"].items()}
    try:
        for n in range(3):
            for twin_id in ids:
                telemetry(fl["base"], twin_id, {"n": n})
        rr = Requester5(fl["shard"][1])
        try:  # a delete, asked on shard1 whatever the owner: its event comes from the owner
            a = rr("$twin/%s/delete" % ids[0])
            assert a.status == 200, a.body
        finally:
            rr.client.disconnect()
        got = all_stored(fl, prefix, deleted={ids[0]: a.body["version"]})
        assert set(got) == set(ids)
        assert got[ids[0]][-1]["event"]["type"] == "deleted"
        assert_once_in_order(got)
        # the same JSON as the owner's $twin/{id}/events
        canon = lambda doc: json.dumps(doc, separators=(",", ":"))  # noqa: E731
        mqtt = {canon(json.loads(m.payload)) for w in watchers.values() for m in w.messages()
                if m.topic.startswith("$twin/" + prefix)}
        assert {canon(e["event"]) for evs in got.values() for e in evs} == mqtt
    finally:
        for w in watchers.values():
            w.close()
    wait_until(lambda: sum(cluster_sys(p)["events_published"] for p in fl["shard"].values())
               >= sum(len(evs) for evs in got.values()), msg="events_published in $SYS")


def test_a_consumer_starts_at_a_sequence_a_time_or_now(events_fleet):
    fl = events_fleet
    prefix = uniq("from") + "-"
    rr = Requester5(fl["base"])
    try:  # answered updates: one version each (telemetry close together may be one change)
        for n in range(4):
            assert rr("$twin/%s/update" % (prefix + "a"), json.dumps({"desired": {"n": n}})).status == 200
            time.sleep(0.05)
    finally:
        rr.client.disconnect()
    stream = all_stored(fl, prefix)[prefix + "a"]
    assert len(stream) == 4
    everything = read_stream(fl)
    middle = stream[2]
    from_seq = read_stream(fl, "--from-seq", str(middle["seq"]))
    assert from_seq == [e for e in everything if e["seq"] >= middle["seq"]]
    since_ms = middle["time_ns"] // 1000000
    first = next(i for i, e in enumerate(everything) if e["time_ns"] >= since_ms * 1000000)
    assert read_stream(fl, "--since", str(since_ms)) == everything[first:]
    one_twin = read_stream(fl, "--filter", "twin.events.*.%s" % token(prefix + "a"))
    assert one_twin == stream
    # --new: only what is stored after the consumer started
    new = subprocess.Popen([consumer(), "--nats", fl["nats"][0], "--new", "--max", "1", "--idle-ms",
                            "10000"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # its consumer exists before the next change
        telemetry(fl["base"], prefix + "b", {"n": 1})
        out, _ = new.communicate(timeout=15)
    finally:
        new.kill()
    assert [json.loads(line)["msg_id"] for line in out.splitlines()] == [token(prefix + "b") + ":1"]


def burst(port, ids, rounds):
    """rounds QoS 0 readings per twin, written at once; returns the client and when it sent (ns)."""
    c = RawClient(port, uniq("burst"))
    buf = bytearray()
    for r in range(rounds):
        for t in ids:
            body = _s("devices/%s/telemetry" % t) + b'{"r":%d}' % r
            buf += b"\x30" + _rl(len(body)) + body
    t0 = time.time_ns()
    c.sock.sendall(bytes(buf))
    return c, t0


def test_events_per_second_through_jetstream(events_fleet, brokers, monkeypatch):
    fl = events_fleet
    prefix = uniq("rate") + "-"
    # new twins: one change each (readings of a twin that wait together are one change)
    ids = [t for t in (prefix + str(i) for i in range(60000)) if shard_of(t) == 1][:15000]
    rounds = 1
    monkeypatch.setenv("TWIN_PLUGIN", cluster_plugin())
    plain = brokers({"cluster_shard": "alone", "cluster_slots": "0-1023"})  # no NATS, no JetStream
    rates = {}
    for label, port in (("without JetStream", plain.port), ("with JetStream", fl["shard"][1])):
        rr = Requester5(port)
        try:
            s = rr.stats()
            start = s["telemetry_applied"] + s["telemetry_unchanged"]
            c, t0 = burst(port, ids, rounds)
            wait_until(lambda: (lambda s: s["telemetry_applied"] + s["telemetry_unchanged"])(rr.stats())
                       >= start + len(ids) * rounds, timeout=60, interval=0.01, msg="burst applied")
            rates[label] = len(ids) * rounds / ((time.time_ns() - t0) / 1e9)
            c.disconnect()
        finally:
            rr.client.disconnect()
    got = all_stored(fl, prefix)
    events = sorted((e for evs in got.values() for e in evs), key=lambda e: e["seq"])
    span = (events[-1]["time_ns"] - t0) / 1e9
    print("telemetry applied: %.0f msg/s without JetStream (cluster build, cluster_events off), "
          "%.0f msg/s on a shard with it; JetStream stored %d change events of %d messages in %.2f s: "
          "%.0f events/s (R3, 3 NATS nodes, all on this machine)"
          % (rates["without JetStream"], rates["with JetStream"], len(events), len(ids) * rounds, span,
             len(events) / span))


def stream_leader(fl):
    """The NATS node (1..3) leading the stream's RAFT group, from a node's monitoring port."""
    for i in (1, 2, 3):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/jsz?streams=true" % (fl["base"] + 30 + i),
                                        timeout=2) as r:
                jsz = json.load(r)
        except OSError:
            continue
        for acc in jsz.get("account_details", []):
            for st in acc.get("stream_detail", []):
                if st["name"] == "TWIN_EVENTS" and st.get("cluster", {}).get("leader"):
                    return int(st["cluster"]["leader"][1:])
    raise AssertionError("no NATS node names a leader of TWIN_EVENTS")


def test_kill_9_of_the_stream_leader_node_loses_no_event(events_fleet):
    fl = events_fleet
    prefix = uniq("kill") + "-"
    owned = defaultdict(list)
    for t in (prefix + str(i) for i in range(200)):
        if len(owned[shard_of(t)]) < 8:
            owned[shard_of(t)].append(t)
    before = {i: cluster_sys(p)["events_retried"] for i, p in fl["shard"].items()}
    flows = [TelemetryFlow(fl["shard"][i], owned[i], pause_every=1).start() for i in (1, 2, 3)]
    try:
        time.sleep(1.5)
        leader = stream_leader(fl)
        with open(os.path.join(fl["dir"], "n%d.pid" % leader)) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        killed_ns = time.time_ns()
        fl["nats"] = [u for j, u in enumerate(fl["nats"], 1) if j != leader]
        time.sleep(4.0)
    finally:
        for f in flows:
            f.stop()
    sent = sum(f.sent for f in flows)
    got = all_stored(fl, prefix)
    assert set(got) == {t for ts in owned.values() for t in ts}
    assert_once_in_order(got)
    after_kill = [e for evs in got.values() for e in evs if e["time_ns"] > killed_ns + 1000000000]
    assert len(after_kill) > 100, "events kept flowing after the kill"
    retried = {i: cluster_sys(p)["events_retried"] - before[i] for i, p in fl["shard"].items()}
    print("kill -9 of NATS n%d: %d telemetry messages, %d events, all stored once in order; "
          "%d stored > 1 s after the kill; retried per shard %s"
          % (leader, sent, sum(len(e) for e in got.values()), len(after_kill), retried))


class Nats:
    """One nats-server with JetStream on a free port, its store kept across restarts."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="twin-nats-")
        self.port = free_port()
        self.url = "nats://127.0.0.1:%d" % self.port
        with open(os.path.join(self.dir, "n.conf"), "w") as f:
            f.write('listen: 127.0.0.1:%d\njetstream { store_dir: "%s" }\n' % (self.port, self.dir))
        self.proc = None

    def start(self):
        nats = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.proc = subprocess.Popen([nats, "-c", os.path.join(self.dir, "n.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def kill(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_while_jetstream_is_down_events_wait_in_the_buffer_then_are_dropped_and_counted(
        brokers, monkeypatch):
    if missing() or not os.path.exists(consumer()):
        pytest.skip(missing() or "no %s" % consumer())
    monkeypatch.setenv("TWIN_PLUGIN", cluster_plugin())
    if os.environ.get("TWIN_PRELOAD"):  # the sanitizer run: libnats's own leak at close (see the file)
        monkeypatch.setenv("LSAN_OPTIONS", "suppressions=" + os.path.join(os.path.dirname(__file__),
                                                                          "lsan_libnats.supp"))
    nats = Nats()
    try:
        b = brokers({"cluster_shard": "s1", "cluster_slots": "0-1023", "cluster_nats": nats.url,
                     "cluster_events": "on", "cluster_events_replicas": "1",
                     "cluster_events_buffer": "40"})
        fl = {"nats": [nats.url], "shard": {1: b.port}}
        rr = Requester5(b.port)
        prefix = uniq("down") + "-"

        def changes(n):  # n answered updates of one twin: n versions
            for i in range(n):
                assert rr("$twin/%sa/update" % prefix, json.dumps({"desired": {"i": i}})).status == 200

        try:
            changes(30)  # before NATS ever ran: buffered
            wait_until(lambda: cluster_sys(b.port)["events_pending"] == 30, msg="30 events held")
            nats.start()
            got = all_stored(fl, prefix)
            assert_once_in_order(got)
            assert len(got[prefix + "a"]) == 30
            nats.kill()
            changes(60)  # 40 fit the buffer, 20 are dropped
            wait_until(lambda: cluster_sys(b.port)["events_dropped"] == 20, msg="20 events dropped")
            assert "dropping new ones, counted in events_dropped" in b.log_text()
            nats.start()
            wait_until(lambda: cluster_sys(b.port)["events_pending"] == 0, timeout=SETTLE,
                       msg="the buffer sent")
            vs = [e["event"]["version"] for e in read_stream(fl) if e["event"]["id"] == prefix + "a"]
            assert vs == list(range(1, 71)), "30 before, then the 40 the buffer held, in order"
            assert cluster_sys(b.port)["events_published"] == 70
        finally:
            rr.client.disconnect()
    finally:
        nats.close()


def test_the_buffer_is_bounded_in_bytes_too(brokers, monkeypatch):
    if missing():
        pytest.skip(missing())
    monkeypatch.setenv("TWIN_PLUGIN", cluster_plugin())
    nobody = "nats://127.0.0.1:%d" % free_port()  # JetStream never answers
    b = brokers({"cluster_shard": "s1", "cluster_slots": "0-1023", "cluster_nats": nobody,
                 "cluster_events": "on", "cluster_events_buffer_bytes": str(1 << 20)})
    rr = Requester5(b.port)
    try:
        twin_id = uniq("big")
        for i in range(50):  # events of about 30 KB: 34 fit in 1 MiB
            body = {"desired": {"blob": "%02d" % i + "x" * 30000}}
            assert rr("$twin/%s/update" % twin_id, json.dumps(body)).status == 200
        s = wait_until(lambda: (lambda s: s if s["events_pending"] + s["events_dropped"] == 50 else None)(
            cluster_sys(b.port)), msg="every event held or dropped")
        assert 30 <= s["events_pending"] <= 34 and s["events_dropped"] == 50 - s["events_pending"], s
        assert "dropping new ones, counted in events_dropped" in b.log_text()
    finally:
        rr.client.disconnect()


def test_the_default_build_needs_no_nats():
    path = plugin_path()
    if not path or is_cluster_build(path):
        pytest.skip("TWIN_PLUGIN is not a default (non-cluster) build")
    ldd = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    assert "libnats" not in ldd


@pytest.mark.parametrize("opts,says", [
    ({"cluster_events": "on"}, "needs plugin_opt_cluster_nats"),
    ({"cluster_events": "yes", "cluster_nats": "nats://127.0.0.1:1"}, "must be on or off"),
    ({"cluster_events": "on", "cluster_nats": "nats://127.0.0.1:1", "events": "false"},
     "needs plugin_opt_events true"),
    ({"cluster_events_stream": "twin.events"}, "not a JetStream stream name"),
    ({"cluster_events_replicas": "7"}, "cluster_events_replicas must be an integer in 1..5"),
    ({"cluster_events_buffer_bytes": "1000"}, "cluster_events_buffer_bytes must be an integer in"),
    ({"cluster_subject": "twin.*"}, "without spaces or wildcards"),
])
def test_a_cluster_build_refuses_a_bad_events_config(brokers, monkeypatch, opts, says):
    if not os.path.exists(cluster_plugin()):
        pytest.skip(missing() or "no cluster build")
    monkeypatch.setenv("TWIN_PLUGIN", cluster_plugin())
    b = brokers(dict({"cluster_shard": "s1", "cluster_slots": "0"}, **opts), start=False)
    assert b.start_expect_exit() != 0
    assert says in b.log_text(), b.log_tail()
