"""Upgrading keeps every twin: a store written by the previous release (0.1.0, store format 1; the fixture
in tests/data/store-format1, made by its make.sh with that release's plugin and twinctl) opens with
today's plugin, which moves its marker to format 2 and says so once; every twin reads as the old twinctl
exported it, history and the deleted twin's tombstone included, and twins update on both telemetry paths
and by request. The refusal of a newer format is a unit test (test_store.c), as no newer release exists.

twinctl: $TWINCTL, else the one beside the plugin (see test_twinctl.py)."""
import gzip
import json
import os
import shutil

from clients import Device, Requester5
from test_twinctl import ctl, public

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "store-format1")
MOVED = "from format 1 to this version's"


def unpack_fixture(db):
    os.makedirs(db)
    with gzip.open(os.path.join(FIXTURE, "data.mdb.gz")) as src, open(os.path.join(db, "data.mdb"), "wb") as dst:
        shutil.copyfileobj(src, dst)


def exported():
    """The twins as 0.1.0's twinctl exported them, by id."""
    with open(os.path.join(FIXTURE, "export.jsonl")) as f:
        return {d["id"]: d for d in map(json.loads, f)}


def test_a_format_1_store_opens_reads_and_updates(brokers, tmp_path):
    db = str(tmp_path / "db")
    unpack_fixture(db)
    old = exported()
    assert json.loads(ctl(db, "stats", "--json").stdout)["format"] == 1   # a read-only open moves nothing

    b = brokers(db_path=db, opts={"history_max": 5})
    assert b.wait_log(MOVED), b.log_tail()
    r = brokers.track(Requester5(b.port))
    for tid, doc in old.items():
        assert public(r.twin(tid)) == doc
    assert [i["version"] for i in r.ok("$twin/rack-1/history")["items"]] == [3, 2, 1]
    assert [i["reported"]["tempTop"] for i in r.ok("$twin/rack-1/history")["items"]] == [25, 24.6, 24.1]
    assert [i["version"] for i in r.ok("$twin/rack-2/history")["items"]] == [3, 2, 1]
    assert r("$twin/gone/get").status == 404

    # updates: flat telemetry (the fast path), nested telemetry (the general path), a request, and the
    # deleted twin created again after its tombstone
    dev = brokers.track(Device(b.port, "rack-1"))
    dev.telemetry({"tempTop": 26.5})
    assert r.twin("rack-1")["version"] == 4 and r.twin("rack-1")["reported"]["tempTop"] == 26.5
    brokers.track(Device(b.port, "rack-2")).telemetry({"power": {"a": 2.0}, "fanSpeed": 3})
    rack2 = r.twin("rack-2")
    assert rack2["version"] == 4 and rack2["reported"]["power"] == {"a": 2.0, "b": 1.25}
    assert rack2["delta"] == {} and rack2["desired"] == {"fanSpeed": 3}
    assert r.ok("$twin/rack-2/update", {"attributes": {"row": "B"}})["version"] == 5
    assert r.ok("$twin/gone/update", {"attributes": {"a": 3}})["version"] == 4    # after the tombstone
    assert r.stats()["twins"] == 3

    # moved once: a restart opens it as today's format, with everything kept
    b.stop()
    assert json.loads(ctl(db, "stats", "--json").stdout)["format"] == 2
    assert "3 twins, 0 problems" in ctl(db, "check").stdout
    b.start()
    r.reset()
    assert b.log_text().count(MOVED) == 1
    assert r.twin("rack-2")["attributes"] == {"site": "dc1", "row": "B"}
    assert [i["version"] for i in r.ok("$twin/rack-1/history")["items"]] == [4, 3, 2, 1]
