"""Recovery from a full store: a full LMDB map (507) at map_size_max, and a full disk (ENOSPC on a
small tmpfs). What frees space (deleting twins, a larger map_size_max, space returning on the disk)
must make writes succeed again with every earlier answered write intact. Dedicated brokers."""
import os
import shutil
import subprocess
import tempfile

import pytest

from clients import Requester5, fill_store, publish_as, wait_until

MIB = 1048576
BLOB = "x" * 30000             # a twin of ~30 KB: 8 LMDB overflow pages


def blob_body(tag="x"):
    return {"attributes": {"blob": tag * 30000}}


def check_twins(r, big, small):
    """Every twin written before is there, as written."""
    for tid in big:
        assert r.twin(tid)["attributes"]["blob"] == BLOB, tid
    for tid in small:
        assert r.twin(tid)["attributes"] == {"i": tid}, tid


def fill_map(r, prefix):
    """Fills the store with big twins until 507, then with small ones until 507, so that the map
    is full to its last page. Returns (big ids, small ids)."""
    big, full = fill_store(r, prefix + "-big", blob_body(), limit=400)
    assert full is not None and full.status == 507, (len(big), full and (full.status, full.body))
    small = []
    for i in range(20000):
        tid = "%s-small-%05d" % (prefix, i)
        a = r.update(tid, {"attributes": {"i": tid}})
        if a.status != 200:
            assert a.status == 507 and "map_size_max" in a.body["error"], (a.status, a.body)
            break
        small.append(tid)
    else:
        raise AssertionError("20000 small twins fitted into a full map")
    return big, small


def test_map_full_deleting_twins_makes_room_for_new_writes(brokers):
    """At map_size_max, twins deleted one by one make room: LMDB reuses the pages a commit freed
    only two commits later, so the first write after a single delete may still be 507; after a
    few deletes, writes of the same size succeed again."""
    b = brokers({"map_size": MIB, "map_size_max": MIB})
    r = brokers.track(Requester5(b.port))
    big, full = fill_store(r, "dfd-big", blob_body(), limit=200)
    assert full is not None and full.status == 507, (len(big), full and full.body)
    assert len(big) >= 10
    assert r.update("dfd-new-0", blob_body("y")).status == 507     # still full
    gone, big = big[:5], big[5:]
    for tid in gone:
        a = r.delete(tid)
        assert a.status == 200, (tid, a.status, a.body)
    for i in range(3):
        a = r.update("dfd-new-%d" % i, blob_body("y"))
        assert a.status == 200, ("write %d after deleting %d twins" % (i, len(gone)), a.status, a.body)
    for tid in gone:
        assert r.get(tid).status == 404
    check_twins(r, big, [])
    for i in range(3):
        assert r.twin("dfd-new-%d" % i)["attributes"]["blob"] == "y" * 30000
    assert r.stats()["map_size"] == MIB
    r.close()
    b.restart(kill=True)
    r = brokers.track(Requester5(b.port))
    check_twins(r, big, [])
    assert r.twin("dfd-new-2")["attributes"]["blob"] == "y" * 30000


def test_full_map_recovers_when_map_size_max_is_raised(brokers):
    """A map full to its last page: reads keep working, and even a delete may be answered 507 (LMDB
    is copy-on-write: a delete needs free pages too). Restarting with a larger map_size_max makes
    writes and deletes succeed again, with every twin written before intact."""
    b = brokers({"map_size": MIB, "map_size_max": MIB})
    r = brokers.track(Requester5(b.port))
    big, small = fill_map(r, "dfm")
    check_twins(r, big, small)
    a = r.delete(big[0])
    assert a.status in (200, 507), (a.status, a.body)
    if a.status == 200:
        big = big[1:]
    assert r.update(small[0], {"attributes": {"i": "changed"}}).status == 507
    s = r.stats()
    assert s["store_full"] >= 1 and s["map_size"] == MIB
    r.close()
    b.opts["map_size_max"] = 64 * MIB
    b.restart()                       # SIGTERM: exits 0 with a full map
    r = brokers.track(Requester5(b.port))
    check_twins(r, big, small)
    new, failed = fill_store(r, "dfm-after", blob_body("z"), limit=40)   # ~1.2 MB more
    assert failed is None, (len(new), failed.status, failed.body)
    assert r.delete(big[0]).status == 200
    assert r.update(small[0], {"attributes": {"i": "changed"}}).status == 200
    assert r.stats()["map_size"] > MIB
    r.close()
    b.restart(kill=True)
    r = brokers.track(Requester5(b.port))
    check_twins(r, big[1:], small[1:])
    assert r.get(big[0]).status == 404
    assert r.twin(small[0])["attributes"] == {"i": "changed"}
    for tid in new:
        assert r.twin(tid)["attributes"]["blob"] == "z" * 30000


# ---------------------------------------------------------------- a full disk

@pytest.fixture
def small_tmpfs():
    """A 2 MiB tmpfs, unmounted at teardown. Request it before `brokers`, so that the brokers on it
    are stopped first. Skipped where root may not mount (CI as a user, most containers)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    d = tempfile.mkdtemp(prefix="twin-tmpfs-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", d],
                       capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(d)
        pytest.skip("this machine does not let root mount a tmpfs (%s)"
                    % (p.stderr.strip() or "mount exit %d" % p.returncode))
    try:
        yield d
    finally:
        if subprocess.run(["umount", d], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", d], capture_output=True)    # busy: detach it anyway
        os.rmdir(d)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bfree * st.f_frsize


def test_disk_full_answers_errors_keeps_reading_and_recovers_when_space_returns(small_tmpfs, brokers):
    """The database on a 2 MiB tmpfs with a map far larger than the disk: when the disk fills,
    writes get a clear error answer (not a crash or a hang), reads and the broker keep working;
    when space returns, the very write that failed succeeds."""
    filler = os.path.join(small_tmpfs, "filler")
    b = brokers({"map_size": MIB, "map_size_max": 256 * MIB}, db_path=os.path.join(small_tmpfs, "db"))
    r = brokers.track(Requester5(b.port))
    with open(filler, "wb") as f:       # leaves ~1 MiB for the database
        f.write(b"\0" * (free_bytes(small_tmpfs) - MIB))
    big, failed = fill_store(r, "dfs", blob_body(), limit=200)
    assert failed is not None, "%d x 30 KB fitted into ~1 MiB of disk" % len(big)
    assert len(big) >= 5, (len(big), failed.body)
    assert failed.status == 507, (failed.status, failed.body)
    assert failed.body["status"] == failed.status
    assert "space" in failed.body["error"], failed.body
    failed_id = "dfs-%04d" % len(big)
    assert free_bytes(small_tmpfs) < 64 * 1024
    # the broker keeps serving reads and stats; the failed twin was not half-written
    check_twins(r, big, [])
    assert r.get(failed_id).status == 404
    s = r.stats()
    assert s["commit_failures"] >= 1, s
    # telemetry meanwhile is applied or dropped and counted: the writer goes on
    publish_as(b.port, "devices/dfs-tel/telemetry", {"v": 1}, client_id="dfs-tel")
    wait_until(lambda: sum(r.stats()[k] for k in ("telemetry_applied", "telemetry_dropped"))
               > s["telemetry_applied"] + s["telemetry_dropped"], msg="telemetry processed")
    # a little space comes back, not enough for the twin: LMDB's write now stops part way (which
    # it reports as EIO), the answer must still say that the disk is full
    with open(filler, "r+b") as f:
        f.truncate(os.path.getsize(filler) - 8192)
    a = r.update(failed_id, blob_body())
    assert a.status == failed.status and "space" in a.body["error"], (a.status, a.body)
    assert r.get(failed_id).status == 404
    assert b.running
    # space returns: the same write succeeds, and more after it
    os.unlink(filler)
    a = r.update(failed_id, blob_body())
    assert a.status == 200, (a.status, a.body)
    more, failed = fill_store(r, "dfs-more", blob_body("m"), limit=10)
    assert failed is None, (len(more), failed.status, failed.body)
    r.close()
    b.restart(kill=True)
    r = brokers.track(Requester5(b.port))
    check_twins(r, big + [failed_id], [])
    for tid in more:
        assert r.twin(tid)["attributes"]["blob"] == "m" * 30000
