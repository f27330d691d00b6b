"""Fixtures for the mosquitto-twin end-to-end tests.

Run: /usr/bin/python3 -m pytest tests/e2e -q
(see broker.py for TWIN_PLUGIN, MOSQUITTO, TWIN_PRELOAD, TWIN_KEEP_TMP)

- `broker`: one broker per test module (tests use distinct twin ids). A module may
  set BROKER_OPTS = {"max_depth": 4, ...} for extra plugin_opt_* lines.
- `rr5` / `rr311`: request/response clients on the module broker.
- `brokers`: factory for dedicated brokers (restart/crash/config tests); every
  broker it made is stopped (and its exit code checked) when the test ends.
"""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import broker as broker_mod  # noqa: E402
from broker import Broker  # noqa: E402
from clients import Requester5, Requester311  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: restarts brokers / large volumes")


@pytest.fixture(scope="module")
def module_broker(request):
    opts = getattr(request.module, "BROKER_OPTS", {})
    b = Broker(opts=opts, name="module broker (%s)" % request.module.__name__)
    b.deaths, b.crash_logs, b.epoch = [], [], 0
    b.start()
    yield b
    try:
        b.close()
    finally:
        if b.deaths:
            raise AssertionError("the module broker died during these tests (exit codes "
                                 "%s; it was restarted so that later tests could run); "
                                 "see the test that failed first:\n%s"
                                 % (b.deaths, "\n".join(b.crash_logs)))


@pytest.fixture
def broker(module_broker):
    """The module's shared broker. If an earlier test crashed it, that test has
    failed (and module teardown reports it); start it again on the same db so the
    rest of the module still tells something."""
    b = module_broker
    if not b.running:
        rc = b.proc.poll() if b.proc is not None else b.returncode
        b.deaths.append(rc)
        b.crash_logs.append(b.log_tail(80))
        b.proc = None
        b.epoch += 1
        b.start()
    return b


@pytest.fixture(scope="module")
def _module_clients(module_broker):
    holder = {}
    yield holder
    for c, _ in holder.values():
        try:
            c.close()
        except Exception:
            pass


def _module_client(name, cls, broker, holder):
    entry = holder.get(name)
    if entry is None:
        entry = holder[name] = (cls(broker.port), broker.epoch)
    elif entry[1] != broker.epoch:      # broker was restarted under it
        entry[0].reset()
        entry = holder[name] = (entry[0], broker.epoch)
    return entry[0]


@pytest.fixture
def rr5(broker, _module_clients):
    """MQTT v5 requester on the module broker (one connection per module)."""
    return _module_client("rr5", Requester5, broker, _module_clients)


@pytest.fixture
def rr311(broker, _module_clients):
    """MQTT 3.1.1 requester on the module broker (one connection per module)."""
    return _module_client("rr311", Requester311, broker, _module_clients)


class BrokerFactory:
    def __init__(self):
        self.brokers = []
        self.closers = []

    def __call__(self, opts=None, start=True, **kw):
        b = Broker(opts=opts, name="dedicated broker #%d" % (len(self.brokers) + 1), **kw)
        self.brokers.append(b)
        if start:
            b.start()
        return b

    def track(self, closeable):
        """Close this client (paho, requester) before the brokers are stopped."""
        self.closers.append(closeable)
        return closeable

    def close(self):
        errors = []
        for c in reversed(self.closers):
            try:
                c.close()
            except Exception:
                pass
        for b in self.brokers:
            try:
                b.close()
            except Exception as e:  # stop every broker, then report
                errors.append(e)
        if errors:
            raise errors[0]


@pytest.fixture
def brokers():
    f = BrokerFactory()
    yield f
    f.close()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._twin_t0 = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        t0 = getattr(item, "_twin_t0", 0)
        for b in broker_mod.REGISTRY:
            if b.running or b.last_active >= t0 or b.created >= t0:
                rep.sections.append(("broker log: %s" % b.name, b.log_tail(60)))
        if broker_mod.keep_tmp():
            rep.sections.append(("kept temp dirs", "\n".join(
                b.tmp for b in broker_mod.REGISTRY if b.last_active >= t0 or b.running)))
