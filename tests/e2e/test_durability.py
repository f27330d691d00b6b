"""Durability: answered writes survive kill -9, telemetry is committed within
commit_interval_ms and at SIGTERM, retained desired messages come back after a restart,
versions are never reused, map full (507) and map growth. Dedicated brokers."""
import time

from clients import (Device, Requester5, Subscriber, TelemetryFlow, fill_store, parse_json,
                     publish_as, uniq, wait_until)


def test_answered_updates_survive_kill9_while_telemetry_flows(brokers):
    b = brokers()
    r = brokers.track(Requester5(b.port))
    dev_ids = [uniq("dur-tel") for _ in range(5)]
    flow = TelemetryFlow(b.port, dev_ids).start()
    try:
        wait_until(lambda: flow.sent > 500, msg="telemetry flowing")
        sent_before = flow.sent
        twins = [uniq("dur-up") for _ in range(20)]
        corrs = {}
        for i in range(200):
            tid = twins[i % 20]
            c = r.send(f"$twin/{tid}/update", {"desired": {"k%d" % i: i}, "attributes": {"last": i}},
                       corr=b"dur-%d" % i)
            corrs[c] = (tid, i)
        answers = {}
        deadline = time.time() + 20
        while len(answers) < len(corrs) and time.time() < deadline:
            m = r.client.get(lambda m: m.topic == r.response_topic, timeout=deadline - time.time())
            answers[bytes(m.properties.CorrelationData)] = m
        assert len(answers) == 200, "only %d of 200 updates answered" % len(answers)
        answered_version = {}
        for c, m in answers.items():
            body = parse_json(m.payload)
            assert dict(m.properties.UserProperty).get("status") == "200", body
            tid, i = corrs[c]
            answered_version[tid] = max(answered_version.get(tid, 0), body["version"])
        assert flow.sent > sent_before, "telemetry stopped while the updates ran"
        b.kill9()                                # telemetry still flowing
    finally:
        flow.stop()
    r.close()
    b.start()
    r2 = brokers.track(Requester5(b.port))
    for j, tid in enumerate(twins):
        t = r2.twin(tid)
        want = {"k%d" % i: i for i in range(j, 200, 20)}
        assert t["desired"] == want, "twin %s lost answered updates" % tid
        assert t["version"] >= answered_version[tid]
        assert t["attributes"]["last"] in range(j, 200, 20)
    for tid in dev_ids:                # telemetry twins committed long before the kill
        t = r2.twin(tid)
        assert isinstance(t["reported"]["n"], int)
        assert t["connected"] is False   # not stored: nobody is connected after a restart


def test_telemetry_survives_sigterm_with_long_commit_interval(brokers):
    b = brokers({"commit_interval_ms": 60000})
    r = brokers.track(Requester5(b.port))
    tids = [uniq("dur-term") for _ in range(3)]
    for n, tid in enumerate(tids):
        publish_as(b.port, f"devices/{tid}/telemetry", {"v": n, "s": "x"}, client_id=tid)
    for n, tid in enumerate(tids):
        assert r.twin(tid)["reported"] == {"v": n, "s": "x"}
    r.close()
    b.stop()                      # asserts exit code 0
    b.start()
    r = brokers.track(Requester5(b.port))
    for n, tid in enumerate(tids):
        t = r.twin(tid)
        assert t["reported"] == {"v": n, "s": "x"} and t["version"] == 1


def test_telemetry_reaches_disk_within_commit_interval(brokers):
    b = brokers({"commit_interval_ms": 200})
    tid = uniq("dur-interval")
    publish_as(b.port, f"devices/{tid}/telemetry", {"v": 42}, client_id=tid)
    r = brokers.track(Requester5(b.port))
    assert r.twin(tid)["reported"] == {"v": 42}
    r.close()
    time.sleep(1.0)               # 5 commit intervals; nothing to wait for from outside
    b.kill9()
    b.start()
    r = brokers.track(Requester5(b.port))
    assert r.twin(tid)["reported"] == {"v": 42}


def test_answered_write_is_committed_at_once_despite_long_interval(brokers):
    """With commit_interval_ms 60000 an answered update must still be on disk when
    the answer arrives (group commit at once, not at the next interval)."""
    b = brokers({"commit_interval_ms": 60000})
    r = brokers.track(Requester5(b.port))
    tel = uniq("dur-pending")
    publish_as(b.port, f"devices/{tel}/telemetry", {"v": 1}, client_id=tel)  # pending batch
    tid = uniq("dur-now")
    assert r.update(tid, {"desired": {"a": 1}, "attributes": {"b": 2}}).status == 200
    r.close()
    b.kill9()
    b.start()
    r2 = brokers.track(Requester5(b.port))
    t = r2.twin(tid)
    assert t["desired"] == {"a": 1} and t["attributes"] == {"b": 2}
    # the telemetry received before the answered write: README's read-your-writes and
    # group commit suggest it was in the same commit; only its readability is required
    assert r2.get(tel).status in (200, 404)


def test_retained_desired_republished_after_restart(brokers):
    b = brokers()
    r = brokers.track(Requester5(b.port))
    pending, matched = uniq("dur-des"), uniq("dur-des-matched")
    a = r.update(pending, {"desired": {"fan": 3}})
    assert a.status == 200
    r.ok(f"$twin/{matched}/update", {"desired": {"x": 1}, "reported": {"x": 1}})
    r.close()
    for how in ("sigterm", "kill9"):
        b.restart(kill=(how == "kill9"))
        late = Subscriber(b.port, [f"devices/{pending}/desired", f"devices/{matched}/desired"])
        try:
            m = late.get(lambda m: m.topic == f"devices/{pending}/desired",
                         desc="re-published retained desired message after %s" % how)
            late.sync()
            if not m.retain:
                # subscribed before the start-up re-publish went out (slow, sanitized builds):
                # it arrived live, so a subscriber that comes now must get it retained
                later = Subscriber(b.port, [f"devices/{pending}/desired"])
                try:
                    m = later.get(lambda m: m.topic == f"devices/{pending}/desired",
                                  desc="retained desired message after %s" % how)
                finally:
                    later.close()
            assert m.retain is True
            assert parse_json(m.payload) == {"id": pending, "version": a.body["version"],
                                             "delta": {"fan": 3}}
            assert late.on(f"devices/{matched}/desired") == []
            assert len(late.on(f"devices/{pending}/desired")) == 1
        finally:
            late.close()


def test_connected_false_after_restart(brokers):
    b = brokers()
    tid = uniq("dur-conn")
    dev = brokers.track(Device(b.port, tid))
    dev.telemetry({"x": 1})
    r = brokers.track(Requester5(b.port))
    assert r.twin(tid)["connected"] is True
    r.close()
    b.kill9()
    b.start()
    dev.wait_reconnected()        # paho reconnects, but does not publish
    r = brokers.track(Requester5(b.port))
    t = r.twin(tid)
    assert t["connected"] is False
    assert t["reported"] == {"x": 1}


def test_version_never_reused_across_restart(brokers):
    b = brokers()
    r = brokers.track(Requester5(b.port))
    tid = uniq("dur-tomb")
    r.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    r.ok(f"$twin/{tid}/update", {"attributes": {"a": 2}})
    assert r.delete(tid).body["version"] == 3
    r.close()
    b.restart(kill=True)
    r = brokers.track(Requester5(b.port))
    assert r.get(tid).status == 404
    a = r.update(tid, {"attributes": {"a": 3}})
    assert a.status == 200 and a.body["version"] == 4


def big_update(r, tid, n=30000):
    return r(f"$twin/{tid}/update", {"attributes": {"blob": "x" * n}})


def test_map_full_answers_507_and_reads_keep_working(brokers):
    b = brokers({"map_size": 1048576, "map_size_max": 1048576})
    r = brokers.track(Requester5(b.port))
    ok, full = fill_store(r, "full", {"attributes": {"blob": "x" * 30000}}, limit=200)
    assert full is not None, "200 x 30 KB fitted into a 1 MiB map"
    assert full.status == 507, (full.status, full.body)
    assert full.body["status"] == 507 and full.body["error"]
    assert len(ok) >= 5
    # reads keep working, for every twin written before
    for tid in ok:
        assert r.twin(tid)["attributes"]["blob"] == "x" * 30000
    # further writes keep failing cleanly, the broker keeps answering
    assert big_update(r, "full-more").status == 507
    s = r.stats()
    assert s["store_full"] >= 1
    assert s["map_size"] == 1048576
    # telemetry that cannot be stored is dropped and counted
    publish_as(b.port, "devices/full-tel/telemetry", {"blob": "y" * 30000}, client_id="full-tel")
    wait_until(lambda: r.stats()["telemetry_dropped"] >= s["telemetry_dropped"] + 1,
               msg="telemetry_dropped to grow")
    assert r.twin(ok[0])["id"] == ok[0]
    # plain traffic still flows
    sub = brokers.track(Subscriber(b.port, "plain/x"))
    publish_as(b.port, "plain/x", b"hi")
    assert sub.get().payload == b"hi"
    r.close()
    b.restart(kill=True)      # the store is still readable after a crash in this state
    r = brokers.track(Requester5(b.port))
    assert r.twin(ok[-1])["attributes"]["blob"] == "x" * 30000


def test_map_grows_up_to_max(brokers):
    b = brokers({"map_size": 1048576, "map_size_max": 67108864})
    r = brokers.track(Requester5(b.port))
    for i in range(100):                       # ~3 MB of twins in a 1 MiB initial map
        a = big_update(r, "grow-%03d" % i)
        assert a.status == 200, (i, a.status, a.body)
    s = r.stats()
    assert s["map_size"] > 1048576
    assert s["map_size"] <= 67108864
    assert s["twins"] >= 100
    r.close()
    b.restart()
    r = brokers.track(Requester5(b.port))
    for i in (0, 50, 99):
        assert r.twin("grow-%03d" % i)["attributes"]["blob"] == "x" * 30000
    assert r.ok("$twin/grow-extra/update", {"attributes": {"blob": "z" * 30000}})["version"] == 1
