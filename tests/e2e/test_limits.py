"""Rate limits and the twin count limit, end to end: request rates per twin and per
client (429 with retryAfterMs), telemetry rate per device (subscribers get every
message; the twin ends at the newest one; the rest is counted), max_twins (507),
and a request flood from one client that does not starve another. Dedicated brokers."""
import time

from clients import (Client, Requester5, Subscriber, parse_json, publish_as, uniq,
                     wait_until)


def burst(r, topics):
    """Sends every request at once, then collects the answers by correlation data."""
    corrs = [r.send(t, b"") for t in topics]
    answers = {}
    deadline = time.time() + 20
    while len(answers) < len(corrs) and time.time() < deadline:
        a = r.any_answer(timeout=deadline - time.time())
        answers[a.corr] = a
    assert len(answers) == len(corrs), "%d of %d answered" % (len(answers), len(corrs))
    return [answers[c] for c in corrs]


def test_requests_over_the_twin_rate_get_429_with_a_retry_hint(brokers):
    b = brokers({"request_rate_per_twin": 5, "request_rate_per_client": 0})
    r = brokers.track(Requester5(b.port))
    tid = uniq("rl-twin")
    r.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    answers = burst(r, [f"$twin/{tid}/get"] * 40)
    ok = [a for a in answers if a.status == 200]
    limited = [a for a in answers if a.status == 429]
    assert len(ok) + len(limited) == 40, [a.status for a in answers]
    assert 8 <= len(ok) <= 14, "burst of 10 (+ refill) expected, %d got through" % len(ok)
    a = limited[0]
    assert a.body["status"] == 429
    assert "request_rate_per_twin=5" in a.body["error"] and tid in a.body["error"]
    assert 1 <= a.body["retryAfterMs"] <= 200
    assert r.ok(f"$twin/{uniq('rl-other')}/update", {"attributes": {"b": 1}})["version"] == 1
    time.sleep(a.body["retryAfterMs"] / 1000 + 0.05)
    assert r.twin(tid)["attributes"] == {"a": 1}
    s = r.stats()
    assert s["requests_rate_limited"] == len(limited)
    assert s["requests_failed"] >= len(limited)


def test_requests_over_the_client_rate_get_429_other_clients_do_not(brokers):
    b = brokers({"request_rate_per_client": 5, "request_rate_per_twin": 0})
    greedy = brokers.track(Requester5(b.port))
    polite = brokers.track(Requester5(b.port))
    answers = burst(greedy, ["$twin/stats"] * 30)
    limited = [a for a in answers if a.status == 429]
    assert 15 <= len(limited) <= 22, len(limited)
    assert "request_rate_per_client=5" in limited[0].body["error"]
    assert greedy.client.client_id in limited[0].body["error"]
    assert limited[0].body["retryAfterMs"] >= 1
    assert polite("$twin/stats").status == 200


def test_requests_with_an_invalid_response_topic_are_rate_limited_too(brokers):
    b = brokers({"request_rate_per_client": 5, "request_rate_per_twin": 0})
    flooder = brokers.track(Requester5(b.port))
    topic = "$twin/%s/get" % uniq("rl-badrt")
    for _ in range(30):
        # over 1 KiB: invalid (a wildcard is too, but Mosquitto 2.0.20 and later refuse that themselves)
        flooder.send(topic, b"", response_topic="r/" + "x" * 1023)
    got = [flooder.client.get(lambda m: m.topic == topic + "/rejected", desc="answer on rejected")
           for _ in range(30)]
    statuses = [int(dict(m.properties.UserProperty)["status"]) for m in got]
    assert set(statuses) == {400, 429}, statuses
    assert 15 <= statuses.count(429) <= 22, statuses            # burst of 10 (+ refill), as for any request
    limited = parse_json(got[statuses.index(429)].payload)
    assert "request_rate_per_client=5" in limited["error"] and limited["retryAfterMs"] >= 1, limited
    assert "response topic" in parse_json(got[statuses.index(400)].payload)["error"]
    time.sleep(0.5)
    assert flooder.stats()["requests_rate_limited"] == statuses.count(429)


def test_telemetry_over_the_device_rate_keeps_the_newest_reading(brokers):
    b = brokers({"telemetry_rate": 5})
    r = brokers.track(Requester5(b.port))
    tid = uniq("rl-tel")
    sub = brokers.track(Subscriber(b.port, f"devices/{tid}/telemetry"))
    dev = brokers.track(Client(b.port, client_id=tid, v5=False))
    for n in range(60):
        dev.publish(f"devices/{tid}/telemetry", {"n": n, "tempTop": 20 + n / 10}, qos=1)
    got = [parse_json(sub.get().payload)["n"] for _ in range(60)]
    assert got == list(range(60)), "subscribers must get every message"
    wait_until(lambda: r.stats()["telemetry_applied"] + r.stats()["telemetry_rate_limited"] == 60,
               msg="every message applied or counted as rate limited")
    s = r.stats()
    assert 10 <= s["telemetry_applied"] <= 14, s     # burst 10, one held, refills meanwhile
    assert s["telemetry_rate_limited"] == 60 - s["telemetry_applied"]
    assert s["telemetry_dropped"] == 0
    assert r.twin(tid)["reported"]["n"] == 59, "the newest reading must reach the twin"
    # another device is not slowed down by this one
    other = uniq("rl-tel-other")
    publish_as(b.port, f"devices/{other}/telemetry", {"n": 1}, client_id=other)
    assert r.twin(other)["reported"] == {"n": 1}


def readings(first, n, key):
    now = int(time.time() * 1000)
    return [{"ts": now - 1000 + i, "values": {key: first + i}} for i in range(n)]


def test_readings_in_one_message_count_against_the_device_rate(brokers):
    """An array of n readings costs n of the device's telemetry_rate, so one message cannot carry more
    than its budget; over max_readings a message is refused whole."""
    b = brokers({"telemetry_rate": 5, "max_readings": 8})   # bursts of 10
    r = brokers.track(Requester5(b.port))
    tid = uniq("rl-readings")
    dev = brokers.track(Client(b.port, client_id=tid, v5=False))
    dev.publish(f"devices/{tid}/telemetry", readings(0, 8, "a"), qos=1)   # 8 of 10: applied
    dev.publish(f"devices/{tid}/telemetry", readings(100, 8, "b"), qos=1) # 8 more: held back
    dev.publish(f"devices/{tid}/telemetry", {"c": 1}, qos=1)              # 1 of the 2 left: applied
    wait_until(lambda: r.stats()["telemetry_rate_limited"] == 1, msg="the held array replaced")
    t = r.twin(tid)
    assert t["reported"] == {"a": 7, "c": 1}, t["reported"]
    # nine readings in one message: refused whole, with an error event
    invalid = r.stats()["telemetry_invalid"]
    time.sleep(2.2)                                               # the budget is back
    dev.publish(f"devices/{tid}/telemetry", readings(200, 9, "d"), qos=1)
    wait_until(lambda: r.stats()["telemetry_invalid"] == invalid + 1, msg="the message refused")
    assert "d" not in r.twin(tid)["reported"]


def test_a_held_back_reading_reaches_the_twin_at_shutdown(brokers):
    # the device's last reading is held back by its rate when the broker is stopped (SIGTERM): it is
    # committed on the way out, as queued telemetry is (README, "Durability and consistency")
    b = brokers({"telemetry_rate": 1})          # bursts of 2, then one token a second
    tid = uniq("rl-held")
    dev = Client(b.port, client_id=tid, v5=False)
    try:
        for n in range(6):
            dev.publish(f"devices/{tid}/telemetry", {"n": n}, qos=1)
        dev.sync()                              # every PUBACK back: the broker has them all
    finally:
        dev.close()
    b.restart()
    r = brokers.track(Requester5(b.port))
    assert r.twin(tid)["reported"] == {"n": 5}


def test_max_twins_refuses_new_twins_with_507(brokers):
    b = brokers({"max_twins": 3})
    r = brokers.track(Requester5(b.port))
    ids = [uniq("mt") for _ in range(3)]
    for tid in ids:
        r.ok(f"$twin/{tid}/update", {"attributes": {"x": 1}})
    a = r(f"$twin/{uniq('mt-extra')}/update", {"attributes": {"x": 1}})
    assert a.status == 507, (a.status, a.body)
    assert "max_twins=3" in a.body["error"] and "plugin_opt_max_twins" in a.body["error"]
    # telemetry for a new device is dropped and counted; its messages still flow
    newdev = uniq("mt-dev")
    sub = brokers.track(Subscriber(b.port, f"devices/{newdev}/telemetry"))
    publish_as(b.port, f"devices/{newdev}/telemetry", {"t": 1}, client_id=newdev)
    assert parse_json(sub.get().payload) == {"t": 1}
    wait_until(lambda: r.stats()["twins_refused"] == 2, msg="the refused telemetry counted")
    assert r(f"$twin/{newdev}/get").status == 404
    # existing twins still change; after a delete a new twin fits again
    assert r.ok(f"$twin/{ids[0]}/update", {"desired": {"fan": 2}})["version"] == 2
    r.ok(f"$twin/{ids[1]}/delete")
    assert r.ok(f"$twin/{newdev}/update", {"attributes": {"x": 1}})["version"] == 1
    s = r.stats()
    assert s["twins"] == 3 and s["twins_refused"] == 2


def test_a_request_flood_from_a_slow_consumer_does_not_starve_another_client(brokers):
    b = brokers({"request_rate_per_client": 200})
    flooder = brokers.track(Requester5(b.port))
    other = brokers.track(Requester5(b.port))
    tid = uniq("fair")
    other.ok(f"$twin/{tid}/update", {"attributes": {"a": 1}})
    n = 20000
    for i in range(n - 1):    # updates of 20000 twins, never waiting for an answer
        flooder.send(f"$twin/{uniq('flood')}/update", {"attributes": {"i": i}})
    flooder.send(f"$twin/{uniq('flood')}/update", {"attributes": {"i": n}}, qos=1)  # PUBACK: all in
    flooder.client.c.loop_stop()   # and from now on it never reads its answers
    try:
        worst = 0.0
        for i in range(20):       # meanwhile the other client reads and writes as usual
            t0 = time.time()
            assert other.ok(f"$twin/{tid}/update", {"attributes": {"a": i + 2}})["version"] == i + 2
            assert other.twin(tid)["attributes"]["a"] == i + 2
            worst = max(worst, time.time() - t0)
        assert worst < 1.0, "another client waited %.2f s behind the flood" % worst
        s = other.stats()
        assert s["requests_rate_limited"] >= n // 2, "the flood was not limited: %r" % s
        assert s["queue_depth"] < 1000
    finally:
        flooder.client.c.loop_start()
