"""The search thread's bounds with a real broker: a full queue (search_queue_size) is answered 503 and
every search is answered once; a search past search_timeout_ms is answered 503 naming the option;
stopping the broker with searches still queued is clean (they are dropped)."""
from clients import Requester5, corr_of, parse_json, status_of, wait_until
from test_search import telemetry_many

N = 3000


def many_twins(port, prefix):
    telemetry_many(port, {"%s-%05d" % (prefix, i): {"t%d" % k: (i * 7 + k * 13) % 1000
                                                    for k in range(10)} for i in range(N)})


def committed(rr, n):
    a = rr("$twin/search", {"count": True, "limit": 1}, timeout=30)
    return a.status == 200 and a.body["count"] == n


def test_a_full_search_queue_is_answered_503_and_a_stop_drops_the_queue(brokers):
    b = brokers({"search_queue_size": 1})
    many_twins(b.port, "q")
    rr = brokers.track(Requester5(b.port))
    wait_until(lambda: committed(rr, N), timeout=60, msg="all twins committed")
    req = {"sort": ["-reported/t3"], "count": True, "limit": 200}
    corrs = [rr.send("$twin/search", req) for _ in range(40)]
    answers = {}
    for _ in corrs:
        m = rr.client.get(lambda m: corr_of(m) in corrs and corr_of(m) not in answers, timeout=60,
                          desc="an answer to one of the searches")
        answers[corr_of(m)] = (status_of(m), parse_json(m.payload))
    statuses = [s for s, _ in answers.values()]
    assert set(statuses) <= {200, 503}, statuses
    busy = [body for s, body in answers.values() if s == 503]
    assert busy, "40 searches at once never found the queue of 1 full"
    assert "search_queue_size" in busy[0]["error"] and "retry later" in busy[0]["error"]
    # stop with searches queued: the broker stops cleanly (exit code and sanitizers are checked)
    for _ in range(5):
        rr.send("$twin/search", req)
    b.stop()


def test_a_search_past_its_deadline_is_answered_503(brokers):
    b = brokers({"search_timeout_ms": 1})
    many_twins(b.port, "d")
    rr = brokers.track(Requester5(b.port))
    wait_until(lambda: rr.stats()["twins"] == N, timeout=60, msg="all twins committed")
    a = rr("$twin/search", {"filter": 'like(id,"d-*")', "sort": ["-reported/t1"], "count": True},
           timeout=30)
    assert a.status == 503, a
    assert "search_timeout_ms=1" in a.body["error"]
