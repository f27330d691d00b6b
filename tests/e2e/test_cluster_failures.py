"""Failures of a fleet's parts, with kill -9 (README, "Scaling out", failure behaviour), on
cluster/local.sh's fleet: a killed shard's twins answer 503 quickly on the other shards while their own
twins, requests and devices carry on, a search (and $twin/stats) answers the other shards' part flagged
incomplete, and after `local.sh restart` every write answered before the kill is there; HAProxy killed
and restarted: devices (paho clients that reconnect by themselves) come back through it and their
telemetry is applied again. Needs what test_cluster_routing needs; skipped otherwise."""
import json
import threading
import time

import pytest

from clients import Client, Requester5, uniq, wait_until
from cluster_fleet import Fleet, shard_of
from test_schemas import valid

SEARCH_TIMEOUT_MS = 1500
CONF = ["plugin_opt_cluster_timeout_ms 1000",
        "plugin_opt_cluster_search_timeout_ms %d" % SEARCH_TIMEOUT_MS]


@pytest.fixture(scope="module")
def fleet():
    f = Fleet(CONF)
    try:
        yield f
    finally:
        f.down()


def ids_of(shard, prefix, n):
    out, i = [], 0
    while len(out) < n:
        t = "%s%d" % (prefix, i)
        if shard_of(t) == shard:
            out.append(t)
        i += 1
    return out


def timed(rr, topic, payload=None):
    t0 = time.monotonic()
    a = rr(topic, payload)
    return a, time.monotonic() - t0


class Writer(threading.Thread):
    """Updates twins round robin through rr (desired.n counting up) until stopped; `acked[id]` is the
    last n answered 200 (durable: answered after the fsync)."""

    def __init__(self, rr, ids):
        super().__init__(daemon=True)
        self.rr, self.ids, self.acked, self.stop = rr, ids, {}, threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            t = self.ids[n % len(self.ids)]
            try:
                a = self.rr("$twin/%s/update" % t, json.dumps({"desired": {"n": n}}), timeout=3)
            except AssertionError:
                a = None  # no answer (the shard died under it)
            if a is not None and a.status == 200:
                self.acked[t] = n
            n += 1


def test_a_killed_shard_answers_503_quickly_nothing_else_stalls_and_nothing_acknowledged_is_lost(fleet):
    prefix = uniq("kill") + "-"
    victims = ids_of(2, prefix, 8)
    others = ids_of(1, prefix, 4) + ids_of(3, prefix, 4)
    rr = {i: Requester5(port, username="ops") for i, port in fleet.shard.items()}
    device = Client(fleet.base, client_id=others[-1], v5=False)  # a shard3 device, through HAProxy
    try:
        for t in victims + others:
            assert rr[1]("$twin/%s/update" % t, json.dumps({"desired": {"n": -1}})).status == 200
        # writes up to the kill: direct on shard2 and forwarded to it from shard1
        writers = [Writer(rr[2], victims[:4]), Writer(rr[1], victims[4:])]
        for w in writers:
            w.start()
        wait_until(lambda: all(len(w.acked) == 4 for w in writers), msg="writes answered on shard2")
        time.sleep(0.3)
        fleet.kill9("shard2")
        for w in writers:
            w.stop.set()
        for w in writers:
            w.join(10)
        acked = dict(writers[0].acked, **writers[1].acked)

        # its slots: 503 quickly from the other shards, every time
        for i in (1, 3):
            for t in victims[:3]:
                a, took = timed(rr[i], "$twin/%s/get" % t)
                assert a.status == 503 and took < 2.0, (a.status, a.body, took)
                print("503 from shard%d for a dead shard's twin: %.0f ms" % (i, took * 1000))
        # nothing else stalls: other shards' twins, reads and writes, and a device's telemetry
        for t in others:
            a, took = timed(rr[1], "$twin/%s/update" % t, json.dumps({"reported": {"during": 1}}))
            assert a.status == 200 and took < 0.5, (t, a.status, took)
        device.publish("devices/%s/telemetry" % others[-1], {"outage": True}, qos=1)
        wait_until(lambda: rr[3]("$twin/%s/get" % others[-1]).body["reported"].get("outage") is True,
                   msg="telemetry applied during the outage")
        # a search: the other shards' twins, flagged incomplete, once the deadline passed
        a, took = timed(rr[1], "$twin/search", json.dumps({"filter": 'like(id,"%s*")' % prefix,
                                                           "count": True, "limit": 200}))
        assert a.status == 200, a.body
        valid("search.response.json", a.body)
        assert a.body["incomplete"] is True and a.body["missing_slots"] == "342-682"
        assert sorted(t["id"] for t in a.body["items"]) == sorted(others) and a.body["count"] == 8
        assert SEARCH_TIMEOUT_MS / 1000 - 0.1 < took < SEARCH_TIMEOUT_MS / 1000 + 1.0, took
        a = rr[3]("$twin/stats")
        valid("stats.response.json", a.body)
        assert a.status == 200 and a.body["shards"] == 2 and a.body["missing_slots"] == "342-682"

        print(fleet.restart("shard2").strip())
        wait_until(lambda: rr[1]("$twin/%s/get" % victims[0]).status == 200, timeout=15,
                   msg="shard2 serves its slots again")
        rr[2].reset()
        for t in victims:
            n = rr[3]("$twin/%s/get" % t).body["desired"]["n"]
            assert n >= acked.get(t, -1), "%s: answered n=%d before the kill, has n=%d" % (t, acked[t], n)
        assert len(acked) == 8
        a = rr[2]("$twin/search", json.dumps({"filter": 'like(id,"%s*")' % prefix, "count": True}))
        assert "incomplete" not in a.body and a.body["count"] == 16
    finally:
        device.disconnect()
        for r in rr.values():
            r.client.disconnect()


def test_devices_reconnect_through_a_restarted_haproxy_and_their_telemetry_is_applied(fleet):
    prefix = uniq("hap") + "-"
    ids = ids_of(1, prefix, 2) + ids_of(2, prefix, 2) + ids_of(3, prefix, 2)
    devices = [Client(fleet.base, client_id=t, v5=False) for t in ids]
    rr = Requester5(fleet.shard[1])
    try:
        def reported(phase):
            return all(rr("$twin/%s/get" % t).body.get("reported", {}).get("phase") == phase for t in ids)
        for d in devices:
            d.publish("devices/%s/telemetry" % d.client_id, {"phase": 1}, qos=1)
        wait_until(lambda: reported(1), msg="phase 1 applied")
        fleet.kill9("haproxy")
        wait_until(lambda: not any(d.is_connected() for d in devices), msg="devices see HAProxy gone")
        print(fleet.restart("haproxy").strip())
        t0 = time.monotonic()
        for d in devices:
            d.wait_reconnected(timeout=10)
        print("devices reconnected through the new HAProxy in %.2f s" % (time.monotonic() - t0))
        for d in devices:
            d.publish("devices/%s/telemetry" % d.client_id, {"phase": 2}, qos=1)
        wait_until(lambda: reported(2), msg="phase 2 applied after the reconnect")
    finally:
        for d in devices:
            d.disconnect()
        rr.client.disconnect()
