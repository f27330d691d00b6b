"""The broker's memory is bounded in bytes, not only in messages: a flood of maximal requests (64 KiB
payloads) faster than the writer can take them fills the queue up to queue_bytes, and the rest is answered
503; the broker's anonymous memory (RssAnon: heap, not the LMDB map) stays within a bound."""
import os
import threading
import time

from clients import Requester5, status_of, uniq, wait_until

QUEUE_BYTES = 8 * 1024 * 1024


def rss_anon_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/%d/status" % pid)


def test_a_flood_of_maximal_requests_is_bounded_by_queue_bytes(brokers):
    b = brokers({"queue_bytes": QUEUE_BYTES, "request_rate_per_client": 0, "request_rate_per_twin": 0})
    pid = b.proc.pid
    base = rss_anon_kb(pid)
    peak = [base]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_anon_kb(pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    senders = [brokers.track(Requester5(b.port)) for _ in range(4)]
    blob = "x" * 60000
    n_each = 600
    answers = lambda rr: [m for m in rr.client.all if m.topic == rr.response_topic]
    try:
        for i in range(n_each):
            for k, rr in enumerate(senders):
                rr.send(f"$twin/{uniq('mem-%d' % k)}/update", {"reported": {"blob": blob, "i": i}})
        for rr in senders:
            wait_until(lambda: len(answers(rr)) >= n_each, timeout=120, msg="every request answered")
        statuses = [status_of(m) for rr in senders for m in answers(rr)]
    finally:
        stop.set()
        watcher.join()
    grown_mb = (peak[0] - base) / 1024
    busy = statuses.count(503)
    print("flood: %d requests of 60 KB, %d answered 503, RssAnon grew %.0f MB" % (len(statuses), busy, grown_mb))
    assert set(statuses) <= {200, 503}, set(statuses)
    assert busy > 0, "the flood never filled the queue: the test proves nothing"
    # 2 400 x 60 KB = 144 MB offered; queued at most QUEUE_BYTES, plus the requests being applied, their
    # answers and the allocator's slack. Under AddressSanitizer freed memory waits in its quarantine (256 MB),
    # so the heap says nothing there; the 503s still do.
    if not os.environ.get("TWIN_PRELOAD"):
        assert grown_mb < 80, "the broker's heap grew %.0f MB under the flood" % grown_mb
    stats = senders[0].stats()
    assert stats["answers_503"] == busy
    wait_until(lambda: senders[0].stats()["queue_depth"] == 0, msg="the queue drained")
