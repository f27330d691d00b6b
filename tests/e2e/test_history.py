"""$twin/{id}/history: past versions newest first, limit, since, fields, token, MQTT v5
and 3.1.1, one entry per commit (a telemetry burst is one entry), history_max (default
10, 3, 0), history_max_age_s, deleting a twin deletes its history, 404 for a missing
twin, history survives a restart, read-your-writes."""
import time

import pytest

from clients import Client, Device, Requester311, Requester5, corr_of, now_ms, sleep_ms_tick, uniq

BROKER_OPTS = {"history_max": 10}  # history is off by default


def history(rr5, tid, req=None, **kw):
    """A history request that must succeed; returns the body."""
    a = rr5(f"$twin/{tid}/history", req if req is not None else (kw or None))
    assert a.status == 200, "history of %s %r -> %s %r" % (tid, req or kw, a.status, a.body)
    assert a.body["id"] == tid
    return a.body


def versions(body):
    return [i["version"] for i in body["items"]]


def make_versions(rr5, tid, n, start=1):
    """n updates with distinct timestamps; returns the expected entries, newest first."""
    expected = []
    attrs, rep, des = {}, {}, {}
    for i in range(start, start + n):
        sleep_ms_tick(2)
        patch = {"attributes": {"n": i}, "reported": {"r%d" % (i % 3): i}}
        if i % 2:
            patch["desired"] = {"d": i}
        up = rr5.ok(f"$twin/{tid}/update", patch)
        attrs["n"] = i
        rep["r%d" % (i % 3)] = i
        if i % 2:
            des["d"] = i
        expected.append({"version": up["version"], "ts": up["updated"],
                         "attributes": dict(attrs), "reported": dict(rep), "desired": dict(des)})
    return expected[::-1]


def test_entries_newest_first(broker, rr5):
    tid = uniq("hi-basic")
    expected = make_versions(rr5, tid, 5)
    body = history(rr5, tid)
    assert body["items"] == expected
    assert versions(body) == [5, 4, 3, 2, 1]
    ts = [i["ts"] for i in body["items"]]
    assert ts == sorted(ts, reverse=True) and len(set(ts)) == 5
    # an empty object asks for the same
    assert history(rr5, tid, {}) == body


def test_entry_is_the_state_of_that_version(broker, rr5):
    tid = uniq("hi-state")
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"t": 1, "o": {"a": 1}})
        # a read waits for the commit of that telemetry: the update below is in a commit
        # of its own (an entry is written per commit, not per version)
        assert versions(history(rr5, tid)) == [1]
        rr5.ok(f"$twin/{tid}/update", {"desired": {"fan": 3}})
        rr5.ok(f"$twin/{tid}/update", {"reported": {"o": {"a": None, "b": [1, 2]}},
                                       "attributes": {"site": "dc1"}})
        rr5.ok(f"$twin/{tid}/update", {"desired": {"fan": None}})
        items = history(rr5, tid)["items"]
        twin = rr5.twin(tid)
    finally:
        dev.close()
    assert [{k: v for k, v in i.items() if k != "ts"} for i in items] == [
        {"version": 4, "attributes": {"site": "dc1"}, "reported": {"t": 1, "o": {"b": [1, 2]}},
         "desired": {}},
        {"version": 3, "attributes": {"site": "dc1"}, "reported": {"t": 1, "o": {"b": [1, 2]}},
         "desired": {"fan": 3}},
        {"version": 2, "attributes": {}, "reported": {"t": 1, "o": {"a": 1}}, "desired": {"fan": 3}},
        {"version": 1, "attributes": {}, "reported": {"t": 1, "o": {"a": 1}}, "desired": {}},
    ]
    assert items[0]["ts"] == twin["updated"]
    assert items[-1]["ts"] == twin["created"]


def test_no_entry_for_a_change_of_nothing(broker, rr5):
    tid = uniq("hi-same")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    rr5.ok(f"$twin/{tid}/update", {"desired": {"gone": None}})
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({})
        assert versions(history(rr5, tid)) == [1]
        dev.telemetry({"x": 1})
        dev.telemetry({"x": 1})
        assert versions(history(rr5, tid)) == [2, 1]
    finally:
        dev.close()


def test_limit(broker, rr5):
    tid = uniq("hi-limit")
    expected = make_versions(rr5, tid, 6)
    assert history(rr5, tid, limit=1)["items"] == expected[:1]
    assert history(rr5, tid, limit=4)["items"] == expected[:4]
    assert history(rr5, tid, limit=6)["items"] == expected
    assert history(rr5, tid, limit=1000)["items"] == expected
    for limit in (0, -1, 1001, 2.5, "3", None, True):
        a = rr5(f"$twin/{tid}/history", {"limit": limit})
        assert a.status == 400, (limit, a.status, a.body)
        assert "limit" in a.body["error"]


def test_default_limit_is_10(broker, rr5):
    tid = uniq("hi-ten")
    expected = make_versions(rr5, tid, 12)
    assert versions(history(rr5, tid)) == list(range(12, 2, -1))
    # 10 are kept: a bigger limit gives no more
    assert history(rr5, tid, limit=100)["items"] == expected[:10]


def test_since(broker, rr5):
    tid = uniq("hi-since")
    expected = make_versions(rr5, tid, 5)
    ts = {e["version"]: e["ts"] for e in expected}
    assert versions(history(rr5, tid, since=ts[3])) == [5, 4, 3]
    assert versions(history(rr5, tid, since=ts[3] + 1)) == [5, 4]
    assert versions(history(rr5, tid, since=ts[5])) == [5]
    assert versions(history(rr5, tid, since=0)) == [5, 4, 3, 2, 1]
    assert history(rr5, tid, since=now_ms() + 60000)["items"] == []
    assert versions(history(rr5, tid, since=ts[2], limit=2)) == [5, 4]
    for since in (-1, "2025-01-01", 1.5, None):
        a = rr5(f"$twin/{tid}/history", {"since": since})
        assert a.status == 400, (since, a.status, a.body)
        assert "since" in a.body["error"]


def test_since_with_device_timestamps_that_go_backwards(broker, rr5):
    # entries are kept in version order; a device's readings carry its own ts, which may go back
    tid = uniq("hi-back")
    base = now_ms() - 3600 * 1000
    dev = Device(broker.port, tid)
    try:
        for i, back in enumerate((40, 10, 50, 20, 30)):      # minutes after base, in arrival order
            dev.telemetry({"ts": base + back * 60000, "values": {"n": i}})
            assert len(history(rr5, tid)["items"]) == i + 1   # one commit per reading
    finally:
        dev.close()
    ts = {e["version"]: e["ts"] for e in history(rr5, tid)["items"]}
    assert ts == {v: base + m * 60000 for v, m in zip(range(1, 6), (40, 10, 50, 20, 30))}
    assert versions(history(rr5, tid, since=base + 25 * 60000)) == [5, 3, 1]
    assert versions(history(rr5, tid, since=base + 25 * 60000, limit=2)) == [5, 3]
    assert versions(history(rr5, tid, since=base + 45 * 60000)) == [3]
    assert versions(history(rr5, tid, since=base)) == [5, 4, 3, 2, 1]


def test_made_again_in_the_commit_of_its_delete_starts_a_fresh_history(broker, rr5):
    # a delete and the update that makes the twin again, sent back to back behind a few updates of
    # another twin, so that the writer takes both while it commits those: one commit deletes the
    # twin and makes it again
    for attempt in range(5):
        tid, other = uniq("hi-again"), uniq("hi-busy")
        make_versions(rr5, tid, 3)
        sent = [rr5.send(f"$twin/{other}/update", {"reported": {"n": i}}) for i in range(8)]
        c_del = rr5.send(f"$twin/{tid}/delete")
        c_up = rr5.send(f"$twin/{tid}/update", {"reported": {"again": attempt}})
        waiting, answers = set(sent + [c_del, c_up]), {}
        while len(answers) < len(waiting):
            a = rr5.any_answer(pred=lambda m: corr_of(m) in waiting and corr_of(m) not in answers)
            answers[a.corr] = a
        assert answers[c_del].status == 200 and answers[c_up].status == 200, answers
        made = answers[c_up].body["version"]
        assert made == answers[c_del].body["version"] + 1 == 5, answers
        body = history(rr5, tid)
        assert body["items"] == [{"version": made, "ts": answers[c_up].body["updated"], "attributes": {},
                                  "reported": {"again": attempt}, "desired": {}}], (attempt, body)


def test_fields(broker, rr5):
    tid = uniq("hi-fields")
    expected = make_versions(rr5, tid, 3)
    body = history(rr5, tid, fields=["reported/r1", "attributes"])
    assert body["items"] == [
        {"version": 3, "ts": expected[0]["ts"], "reported": {"r1": 1}, "attributes": {"n": 3}},
        {"version": 2, "ts": expected[1]["ts"], "reported": {"r1": 1}, "attributes": {"n": 2}},
        {"version": 1, "ts": expected[2]["ts"], "reported": {"r1": 1}, "attributes": {"n": 1}},
    ]
    body = history(rr5, tid, fields=["desired/d", "nosuch", "metadata", "reported/r2"])
    assert body["items"] == [
        {"version": 3, "ts": expected[0]["ts"], "desired": {"d": 3}, "reported": {"r2": 2}},
        {"version": 2, "ts": expected[1]["ts"], "desired": {"d": 1}, "reported": {"r2": 2}},
        {"version": 1, "ts": expected[2]["ts"], "desired": {"d": 1}},
    ]
    assert history(rr5, tid, fields=[])["items"] == [
        {"version": e["version"], "ts": e["ts"]} for e in expected]
    for fields in ("reported", [1], [""]):
        a = rr5(f"$twin/{tid}/history", {"fields": fields})
        assert a.status == 400 and "fields" in a.body["error"], (fields, a.body)


def test_token_and_v311(broker, rr5, rr311):
    tid = uniq("hi-tok")
    make_versions(rr5, tid, 2)
    assert history(rr5, tid, token="h-1")["token"] == "h-1"
    a = rr5(f"$twin/{tid}-missing/history", {"token": "h-404"})
    assert a.status == 404 and a.body["token"] == "h-404"
    a = rr5(f"$twin/{tid}/history", {"limit": 0, "token": "h-400"})
    assert a.status == 400 and a.body["token"] == "h-400"
    ok = rr311(f"$twin/{tid}/history", {"limit": 1, "token": "h311"})
    assert ok.outcome == "accepted" and ok.topic == f"$twin/{tid}/history/accepted"
    assert ok.body["id"] == tid and versions(ok.body) == [2] and ok.body["token"] == "h311"
    miss = rr311(f"$twin/{tid}-missing/history")
    assert miss.outcome == "rejected" and miss.topic == f"$twin/{tid}-missing/history/rejected"
    assert miss.body["status"] == 404
    plain = rr311(f"$twin/{tid}/history")
    assert plain.outcome == "accepted" and versions(plain.body) == [2, 1]


def test_refusals(broker, rr5):
    tid = uniq("hi-bad")
    rr5.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    for payload in ({"version": 1}, {"count": True}, {"filter": "x"}, {"desired": {}}):
        a = rr5(f"$twin/{tid}/history", payload)
        assert a.status == 400, (payload, a.status, a.body)
        assert "unknown field" in a.body["error"]
    for payload in (b"{bad", b"[1]", b'{"limit":1,"limit":2}'):
        assert rr5(f"$twin/{tid}/history", payload).status == 400, payload
    assert rr5("$twin/" + "a" * 257 + "/history").status == 400


def test_missing_twin_is_404(broker, rr5):
    tid = uniq("hi-missing")
    a = rr5(f"$twin/{tid}/history")
    assert a.status == 404, (a.status, a.body)
    assert tid in a.body["error"]


def test_delete_removes_history(broker, rr5):
    tid = uniq("hi-del")
    longer = tid + "x"      # an id that starts with the other one
    make_versions(rr5, tid, 3)
    kept = make_versions(rr5, longer, 2)
    assert rr5(f"$twin/{tid}/delete").status == 200
    a = rr5(f"$twin/{tid}/history")
    assert a.status == 404, (a.status, a.body)
    assert history(rr5, longer)["items"] == kept
    # re-created: versions go on, the old entries are gone
    up = rr5.ok(f"$twin/{tid}/update", {"desired": {"z": 1}})
    assert up["version"] == 5
    items = history(rr5, tid)["items"]
    assert items == [{"version": 5, "ts": up["updated"], "attributes": {}, "reported": {},
                      "desired": {"z": 1}}]


def test_history_reads_its_writes(broker, rr5):
    tid = uniq("hi-ryw")
    for i in range(1, 11):
        up = rr5.ok(f"$twin/{tid}/update", {"attributes": {"n": i}})
        top = history(rr5, tid, limit=1)["items"]
        assert top[0]["version"] == up["version"] == i
        assert top[0]["attributes"] == {"n": i}
    # telemetry (default commit_interval_ms 100): history right after the PUBACK
    c = Client(broker.port, v5=False)
    try:
        for i in range(5):
            c.publish(f"devices/{tid}/telemetry", {"t": i}, qos=1)
            top = history(rr5, tid, limit=1)["items"][0]
            assert top["reported"] == {"t": i}, "history after telemetry #%d: %r" % (i, top)
    finally:
        c.close()


# ------------------------------------------------------------------ dedicated brokers

def test_a_telemetry_burst_in_one_commit_is_one_entry(brokers):
    b = brokers({"commit_interval_ms": 60000, "history_max": 10})
    r = brokers.track(Requester5(b.port))
    tid = uniq("hi-burst")
    r.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    c = brokers.track(Client(b.port))
    for i in range(5):
        c.publish(f"devices/{tid}/telemetry", {"t": i, "k%d" % i: i}, qos=1)
    # the history request is answered after the commit that holds the burst
    items = history(r, tid)["items"]
    # the burst waited for the writer together: one change, one version, one entry
    assert versions({"items": items}) == [2, 1], "a burst in one commit should be one entry"
    assert items[0]["reported"] == {"t": 4, "k0": 0, "k1": 1, "k2": 2, "k3": 3, "k4": 4}
    assert items[0]["attributes"] == {"a": 1}


def test_history_max_3_keeps_the_3_newest(brokers):
    b = brokers({"history_max": 3})
    r = brokers.track(Requester5(b.port))
    tid = uniq("hi-max3")
    expected = make_versions(r, tid, 7)
    assert history(r, tid, limit=1000)["items"] == expected[:3]
    dev = brokers.track(Device(b.port, tid))
    dev.telemetry({"new": 1})
    assert versions(history(r, tid, limit=1000)) == [8, 7, 6]


def test_history_is_off_by_default(brokers):
    b = brokers()
    r = brokers.track(Requester5(b.port))
    tid = uniq("hi-max0")
    make_versions(r, tid, 3)
    body = history(r, tid, limit=1000)
    assert body == {"id": tid, "items": []}
    assert r.twin(tid)["version"] == 3
    assert r(f"$twin/{tid}-missing/history").status == 404


def test_history_max_age_s(brokers):
    b = brokers({"history_max_age_s": 1, "history_max": 10})
    r = brokers.track(Requester5(b.port))
    tid = uniq("hi-age")
    make_versions(r, tid, 2)
    time.sleep(1.1)
    # pruned as new entries are written: the two old ones are over 1 s older than it
    up = r.ok(f"$twin/{tid}/update", {"attributes": {"late": True}})
    assert versions(history(r, tid)) == [up["version"]] == [3]


@pytest.mark.slow
def test_history_survives_a_restart(brokers):
    b = brokers({"history_max": 10})
    r = Requester5(b.port)
    tid = uniq("hi-restart")
    expected = make_versions(r, tid, 4)
    dev = Device(b.port, tid)
    dev.telemetry({"last": 1})            # committed at shutdown at the latest
    dev.close()
    before = history(r, tid)["items"]
    assert versions({"items": before}) == [5, 4, 3, 2, 1]
    assert before[1:] == expected
    r.close()
    b.restart()                           # SIGTERM, then start on the same db
    r = brokers.track(Requester5(b.port))
    assert history(r, tid)["items"] == before
    up = r.ok(f"$twin/{tid}/update", {"attributes": {"after": 1}})
    assert versions(history(r, tid)) == [up["version"], 5, 4, 3, 2, 1]
    r311 = brokers.track(Requester311(b.port))
    assert versions(r311(f"$twin/{tid}/history", {"limit": 2}).body) == [6, 5]
