"""$twin/stats counters (README "Observability")."""
import os
import re

from clients import Device, publish_as, uniq, wait_until

KEYS = {"twins", "telemetry_received", "telemetry_applied", "telemetry_unchanged", "telemetry_merged",
        "telemetry_invalid", "telemetry_dropped", "telemetry_rate_limited", "requests",
        "requests_failed", "requests_rate_limited", "twins_refused", "publishes_refused", "commits",
        "requests_get", "requests_update", "requests_delete", "requests_history", "requests_search",
        "requests_stats", "answers_200", "answers_400", "answers_404", "answers_409", "answers_413",
        "answers_429", "answers_500", "answers_503", "answers_507",
        "commit_failures", "store_full", "commit_us", "queue_depth", "map_size", "db_bytes",
        "requests_ack", "requests_model", "model_invalid", "model_refused", "model_missing",
        "alarms_raised", "alarms_cleared", "alarms_acked", "version"}


def cmake_version():
    """The project version that CMakeLists.txt sets: the one place the release is written."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "CMakeLists.txt")) as f:
        return re.search(r"project\(mosquitto_twin VERSION (\S+)", f.read()).group(1)


def test_stats_keys(broker, rr5, rr311):
    s = rr5.stats()
    assert set(s) == KEYS
    assert s["version"] == cmake_version()
    b = rr311("$twin/stats")
    assert b.outcome == "accepted" and set(b.body) == KEYS


def test_twins_count_follows_create_and_delete(broker, rr5):
    s0 = rr5.stats()["twins"]
    a, b = uniq("st-a"), uniq("st-b")
    rr5.ok(f"$twin/{a}/update", {"attributes": {"x": 1}})
    publish_as(broker.port, f"devices/{b}/telemetry", {"x": 1}, client_id=b)
    rr5.twin(b)       # read-your-writes is promised for get, not for stats
    assert rr5.stats()["twins"] == s0 + 2
    rr5.ok(f"$twin/{a}/delete")
    assert rr5.stats()["twins"] == s0 + 1
    rr5.ok(f"$twin/{a}/update", {"attributes": {"x": 2}})      # re-created
    assert rr5.stats()["twins"] == s0 + 2


def test_telemetry_counters(broker, rr5):
    tid = uniq("st-tel")
    d = Device(broker.port, tid)
    try:
        rr5.get(tid)     # a get waits for all telemetry received before it (stats need not)
        s1 = rr5.stats()
        # each applied before the next (a get waits for it): messages that wait together are one change,
        # and count as applied when that change changed the twin
        d.telemetry({"a": 1})        # applied (creates)
        rr5.twin(tid)
        d.telemetry({"a": 2})        # applied
        rr5.twin(tid)
        d.telemetry({"a": 2})        # unchanged
        rr5.twin(tid)
        d.telemetry(b"oops")         # invalid
        rr5.twin(tid)
        s2 = rr5.stats()
    finally:
        d.close()
    diff = {k: s2[k] - s1[k] for k in KEYS if k not in ("map_size", "queue_depth", "db_bytes", "version")}
    assert diff["telemetry_received"] == 4
    assert diff["telemetry_applied"] == 2
    assert diff["telemetry_unchanged"] == 1
    assert diff["telemetry_invalid"] == 1
    assert diff["telemetry_dropped"] == 0
    assert diff["telemetry_rate_limited"] == 0
    assert diff["commit_failures"] == 0


def test_commits_and_queue_depth(broker, rr5):
    s1 = rr5.stats()
    tid = uniq("st-commit")
    rr5.ok(f"$twin/{tid}/update", {"desired": {"a": 1}})     # answered after a commit
    s2 = rr5.stats()
    assert s2["commits"] >= s1["commits"] + 1
    assert s2["commit_failures"] == 0
    assert s2["store_full"] == 0
    wait_until(lambda: rr5.stats()["queue_depth"] == 0, msg="queue to drain")


def test_request_counters(broker, rr5):
    s1 = rr5.stats()
    tid = uniq("st-req")
    rr5(f"$twin/{tid}/get")                                  # 404
    rr5(f"$twin/{tid}/update", {"attributes": {"a": 1}})     # 200
    rr5(f"$twin/{tid}/update", {"attributes": {"a": 1}, "version": 5})   # 409
    rr5(f"$twin/{tid}/get")                                  # 200
    s2 = rr5.stats()
    assert s2["requests_failed"] - s1["requests_failed"] == 2
    assert s2["requests"] - s1["requests"] in (4, 5)         # +1 if stats counts itself


def test_requests_by_verb_and_answers_by_status(broker, rr5, rr311):
    tid = uniq("st-verb")
    s1 = rr5.stats()
    assert rr5.get(tid).status == 404
    assert rr5.update(tid, {"desired": {"a": 1}}).status == 200
    assert rr5(f"$twin/{tid}/frobnicate").status == 400
    assert rr311(f"$twin/{tid}/get").outcome == "accepted"          # v3.1.1 answers count too
    assert rr5(f"$twin/{tid}/update", {"version": 99, "desired": {"a": 2}}).status == 409
    s2 = rr5.stats()
    diff = {k: s2[k] - s1[k] for k in s2 if k.startswith(("requests_", "answers_"))}
    assert diff["requests_get"] == 2 and diff["requests_update"] == 2 and diff["requests_stats"] == 1
    assert diff["requests_delete"] == diff["requests_search"] == diff["requests_history"] == 0
    # the first stats answer was counted as it left; the second one is still on its way
    assert (diff["answers_200"], diff["answers_400"], diff["answers_404"], diff["answers_409"]) == (3, 1, 1, 1)
    assert s2["requests"] - s1["requests"] == 6
