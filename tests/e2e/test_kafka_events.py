"""The optional Kafka sink (README, "Events on Kafka"): a broker with a -DTWIN_KAFKA=ON plugin produces
every twin change to a Kafka topic, keyed by the twin id. No Kafka broker is installable here, so the
topic lives in librdkafka's mock cluster (3 brokers speaking the Kafka protocol on 127.0.0.1), started
by tests/kafka/twin-kafka-mock, which also reads the topic back.

Needs TWIN_KAFKA_PLUGIN, else build-kafka/mosquitto_twin.so, and twin-kafka-mock beside it; skipped,
saying which is missing, otherwise.
"""
import json
import os
import subprocess
import time

import pytest

from broker import REPO, plugin_path
from clients import Requester5, Subscriber, uniq, wait_until

PARTITIONS = 4


def kafka_plugin():
    return os.environ.get("TWIN_KAFKA_PLUGIN") or os.path.join(REPO, "build-kafka", "mosquitto_twin.so")


def mock_program():
    return os.path.join(os.path.dirname(kafka_plugin()), "twin-kafka-mock")


class MockCluster:
    def __init__(self, topic):
        self.proc = subprocess.Popen([mock_program(), topic, str(PARTITIONS)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().split()
        assert first[:1] == ["bootstrap"], first
        self.bootstrap = first[1]

    def messages(self):
        self.proc.stdin.write("consume\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            if line == "end\n":
                return out
            out.append(json.loads(line))
        raise AssertionError("twin-kafka-mock stopped (exit %s)" % self.proc.wait())

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "ok\n"

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


@pytest.fixture
def kafka(brokers, monkeypatch):
    if not os.path.exists(kafka_plugin()) or not os.path.exists(mock_program()):
        pytest.skip("no Kafka build at %s (cmake -B build-kafka -DTWIN_KAFKA=ON, or set TWIN_KAFKA_PLUGIN)"
                    % kafka_plugin())
    monkeypatch.setenv("TWIN_PLUGIN", kafka_plugin())
    mock = MockCluster("twin-events")
    yield mock
    mock.close()


def kafka_sys(port):
    """The sink's counters: retained $SYS/broker/twin/kafka."""
    s = Subscriber(port, "$SYS/broker/twin/kafka")
    try:
        return json.loads(s.get(desc="the Kafka counters").payload)
    finally:
        s.close()


def test_every_change_reaches_kafka_keyed_by_twin_in_version_order(kafka, brokers):
    b = brokers({"kafka_brokers": kafka.bootstrap})
    watch = Subscriber(b.port, "$twin/+/events")
    rr = Requester5(b.port)
    ids = [uniq("k") for _ in range(12)] + [uniq('odd "id"')]
    try:
        for i in range(3):
            for twin_id in ids:
                a = rr("$twin/%s/update" % twin_id, json.dumps({"desired": {"i": i}}))
                assert a.status == 200, a.body
        assert rr("$twin/%s/delete" % ids[0]).status == 200
        wait_until(lambda: kafka_sys(b.port)["published"] == 3 * len(ids) + 1, timeout=20,
                   msg="every event acknowledged by Kafka")
        got = kafka.messages()
        assert len(got) == 3 * len(ids) + 1
        by_twin = {}
        for m in sorted(got, key=lambda m: (m["partition"], m["offset"])):
            twin_id = bytes.fromhex(m["key_hex"]).decode()
            assert m["value"]["id"] == twin_id
            by_twin.setdefault(twin_id, []).append(m)
        assert set(by_twin) == set(ids)
        for twin_id, ms in by_twin.items():
            assert len({m["partition"] for m in ms}) == 1, "one twin, one partition"
            assert [m["value"]["version"] for m in ms] == list(range(1, len(ms) + 1))
        assert by_twin[ids[0]][-1]["value"]["type"] == "deleted"
        assert len({ms[0]["partition"] for ms in by_twin.values()}) > 1, "twins spread over partitions"
        canon = lambda doc: json.dumps(doc, separators=(",", ":"))  # noqa: E731
        assert {canon(m["value"]) for m in got} == {canon(json.loads(m.payload)) for m in watch.messages()}
        assert kafka_sys(b.port)["dropped"] == 0
    finally:
        rr.client.disconnect()
        watch.close()


def test_a_kafka_broker_down_and_back_loses_and_reorders_no_event(kafka, brokers):
    b = brokers({"kafka_brokers": kafka.bootstrap})
    rr = Requester5(b.port)
    ids = [uniq("kd") for _ in range(8)]

    def changes(i):
        for twin_id in ids:
            assert rr("$twin/%s/update" % twin_id, json.dumps({"desired": {"i": i}})).status == 200

    try:
        changes(0)
        wait_until(lambda: kafka_sys(b.port)["published"] == len(ids), timeout=20,
                   msg="first round in Kafka (the producer's first connection)")
        kafka.command("down 1")  # the leader of some partitions
        for i in range(1, 4):
            changes(i)
        time.sleep(1.5)  # the producer meets the closed broker (retries, reconnects) before it is back
        kafka.command("up 1")
        wait_until(lambda: kafka_sys(b.port)["published"] == 4 * len(ids), timeout=30,
                   msg="every event delivered once broker 1 is back")
        got = kafka.messages()
        for twin_id in ids:
            key = twin_id.encode().hex()
            ms = sorted((m for m in got if m["key_hex"] == key), key=lambda m: m["offset"])
            assert [m["value"]["version"] for m in ms] == [1, 2, 3, 4], twin_id
        assert kafka_sys(b.port)["dropped"] == 0
    finally:
        rr.client.disconnect()


def test_the_default_build_knows_no_kafka_options(brokers):
    path = plugin_path()
    with open(path, "rb") as f:
        if b"mosquitto_twin: kafka sink" in f.read():
            pytest.skip("TWIN_PLUGIN is a Kafka build")
    b = brokers({"kafka_brokers": "127.0.0.1:9092"}, start=False)
    assert b.start_expect_exit() != 0
    assert "unknown option" in b.log_text() and "kafka_brokers" in b.log_text()
    ldd = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    assert "librdkafka" not in ldd


@pytest.mark.parametrize("opts,says", [
    ({"kafka_topic": "t"}, "needs plugin_opt_kafka_brokers"),
    ({"kafka_brokers": "127.0.0.1:1", "kafka_buffer": "0"}, "kafka_buffer must be an integer"),
    ({"kafka_brokers": "127.0.0.1:1", "kafka_bogus": "1"}, "kafka_brokers, kafka_topic, kafka_buffer"),
    ({"kafka_brokers": "127.0.0.1:1", "events": "false"}, "needs plugin_opt_events true"),
])
def test_a_kafka_build_refuses_a_bad_kafka_config(brokers, monkeypatch, opts, says):
    if not os.path.exists(kafka_plugin()):
        pytest.skip("no Kafka build at %s" % kafka_plugin())
    monkeypatch.setenv("TWIN_PLUGIN", kafka_plugin())
    b = brokers(opts, start=False)
    assert b.start_expect_exit() != 0
    assert says in b.log_text(), b.log_tail()
