"""twinctl against real databases: the read-only commands on the live database of a running broker,
import refused while it runs (and a broker refused while an import runs), an export imported into a
fresh directory and read back through a new broker (alarms included), versions continued on
re-import, Ditto things imported and read over MQTT (their definitions made the twins' models with
--models), bad records reported with their lines, damage found by check, the progress bar; a WoT Thing
Model converted into a model that a broker loads and that Ditto things whose definition is its URL
follow.

The binary: $TWINCTL, else `twinctl` next to the plugin (TWIN_PLUGIN's directory; the build puts
both in the build directory)."""
import fcntl
import json
import os
import pty
import subprocess
import tempfile

import pytest

from broker import plugin_path
from clients import Device, Requester5, Subscriber, parse_json, uniq, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
LOCKED = ("the database is in use by a running broker (lock held); stop the broker or import "
          "over MQTT")


def twinctl_path():
    p = os.environ.get("TWINCTL")
    if not p:
        plugin = plugin_path()
        assert plugin, "TWIN_PLUGIN is empty: set TWINCTL to the twinctl binary"
        p = os.path.join(os.path.dirname(plugin), "twinctl")
    assert os.access(p, os.X_OK), "no twinctl binary at %s (build it, or set TWINCTL)" % p
    return p


def ctl(db, *args, rc=0, stdin=None):
    """Runs twinctl -d db args...; asserts the exit code; returns the CompletedProcess."""
    p = subprocess.run([twinctl_path(), "-d", db] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == rc, "twinctl %s -> %d (expected %d)\nstdout: %s\nstderr: %s" % (
        " ".join(args), p.returncode, rc, p.stdout[-2000:], p.stderr[-2000:])
    return p


def public(twin):
    """A $twin/get answer as twinctl writes it: without the live `connected`."""
    return {k: v for k, v in twin.items() if k != "connected"}


def write_twins(port, prefix):
    """Twins with attributes, desired state and device telemetry; returns their ids."""
    ids = ["%s-%d" % (prefix, i) for i in range(3)]
    r = Requester5(port)
    try:
        for i, tid in enumerate(ids):
            r.ok("$twin/%s/update" % tid, {"attributes": {"site": "dc1", "row": "A", "position": i},
                                           "desired": {"fanSpeed": i + 1}})
        d = Device(port, ids[0])
        d.telemetry({"tempTop": 24.1, "tempBottom": 21.3, "fanSpeed": 1, "rack": {"door": "closed"}})
        d.close()
        wait_until(lambda: "tempTop" in r.twin(ids[0])["reported"], msg="telemetry applied")
        return ids, {tid: r.twin(tid) for tid in ids}
    finally:
        r.close()


def test_read_only_commands_work_beside_a_running_broker(broker, tmp_path):
    ids, twins = write_twins(broker.port, uniq("ctl-ro"))
    db = broker.db_path

    listed = ctl(db, "ls").stdout.splitlines()
    assert set(ids) <= set(listed) and listed == sorted(listed, key=lambda s: s.encode())
    prefix = ids[0].rsplit("-", 1)[0]
    assert ctl(db, "ls", "--prefix", prefix).stdout.splitlines() == ids

    for tid in ids:
        assert parse_json(ctl(db, "get", tid).stdout) == public(twins[tid])
    missing = ctl(db, "get", "no-such-twin", rc=1)
    assert "twin 'no-such-twin' not found" in missing.stderr

    out = tmp_path / "export.jsonl"
    exported = ctl(db, "export", str(out))
    assert exported.stdout == "" and "exported" in exported.stderr
    lines = out.read_text().splitlines()
    docs = {d["id"]: d for d in map(parse_json, lines)}
    assert len(docs) == len(lines) == len(listed)
    for tid in ids:
        assert docs[tid] == public(twins[tid])
    assert ctl(db, "export", "-").stdout == out.read_text()

    stats = parse_json(ctl(db, "stats", "--json").stdout)
    assert stats["twins"] == len(listed) and stats["desired"] >= len(ids) - 1
    assert stats["tables"]["twins"]["bytes"] > 0 and 0 < stats["map_used"] <= stats["map_size"]
    text = ctl(db, "stats").stdout
    assert "twins" in text and "map size" in text

    check = ctl(db, "check")
    assert check.stdout.strip() == "check: %d twins, 0 problems: OK" % len(listed)

    copy = str(tmp_path / "compacted")
    ctl(db, "compact", copy)
    assert ctl(copy, "ls").stdout.splitlines() == listed
    ctl(copy, "check")
    assert "already holds a database" in ctl(db, "compact", copy, rc=1).stderr

    # the broker noticed nothing
    r = Requester5(broker.port)
    try:
        assert r.ok("$twin/%s/update" % ids[1], {"desired": {"fanSpeed": 9}})["version"] == \
            twins[ids[1]]["version"] + 1
    finally:
        r.close()


def test_import_is_refused_while_the_broker_runs(broker, tmp_path):
    ids, twins = write_twins(broker.port, uniq("ctl-lock"))
    f = tmp_path / "one.jsonl"
    f.write_text(json.dumps({"id": ids[0], "reported": {"tempTop": 99}}) + "\n")
    p = ctl(broker.db_path, "import", str(f), rc=1)
    assert LOCKED in p.stderr
    r = Requester5(broker.port)
    try:
        assert r.twin(ids[0])["reported"]["tempTop"] == 24.1
    finally:
        r.close()


def lock_held(db):
    try:
        fd = os.open(os.path.join(db, "twin.lock"), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_a_broker_cannot_start_while_import_runs(brokers, tmp_path):
    db = str(tmp_path / "db")
    imp = subprocess.Popen([twinctl_path(), "-d", db, "import", "--batch", "1"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        imp.stdin.write(json.dumps({"id": "first", "reported": {"t": 1}}) + "\n")
        imp.stdin.flush()
        wait_until(lambda: lock_held(db), msg="import holding the lock")
        refused = brokers(db_path=db, start=False)
        assert refused.start_expect_exit() != 0
        assert "already in use" in refused.log_text()
        imp.stdin.write(json.dumps({"id": "second", "reported": {"t": 2}}) + "\n")
        out, err = imp.communicate(timeout=30)
    finally:
        if imp.poll() is None:
            imp.kill()
            imp.communicate()
    assert imp.returncode == 0, err
    assert "2 imported (2 new" in out
    assert not lock_held(db)
    b = brokers(db_path=db)
    r = brokers.track(Requester5(b.port))
    assert r.twin("second")["reported"] == {"t": 2}


def test_export_imports_into_a_fresh_directory_and_reads_back(brokers, tmp_path):
    a = brokers()
    ids, _ = write_twins(a.port, "rt")
    r = brokers.track(Requester5(a.port))
    r.ok("$twin/gone/update", {"attributes": {"x": 1}})
    r.ok("$twin/gone/update", {"attributes": {"x": 2}})
    assert r.ok("$twin/gone/delete")["version"] == 3  # a tombstone with version 3
    export = tmp_path / "twins.jsonl"
    ctl(a.db_path, "export", str(export))
    r.close()
    a.stop()
    exported = [parse_json(l) for l in export.read_text().splitlines()]
    assert [d["id"] for d in exported] == sorted(ids)

    fresh = str(tmp_path / "fresh-db")
    p = ctl(fresh, "import", str(export))
    assert p.stdout.strip() == ("import: 3 imported (3 new, 0 replaced), 0 skipped (0 unchanged, "
                                "0 existing kept), 0 errors")
    ctl(fresh, "check")
    # importing the same file again changes nothing
    p = ctl(fresh, "import", "-", stdin=export.read_text())
    assert "0 imported (0 new, 0 replaced), 3 skipped (3 unchanged" in p.stdout

    b = brokers(db_path=fresh)
    try:
        rb = brokers.track(Requester5(b.port))
        for doc in exported:
            assert public(rb.twin(doc["id"])) == doc
        # the desired index was written: the broker re-publishes the retained desired messages
        pending = {"devices/%s/desired" % d["id"] for d in exported if d["delta"]}
        assert len(pending) == 2
        sub = brokers.track(Subscriber(b.port, "devices/+/desired"))
        wait_until(lambda: pending <= {m.topic for m in sub.messages() if m.retain},
                   msg="retained desired messages of %s" % sorted(pending))
    finally:
        b.stop()

    # into the old directory: the twins exist (replaced, versions continue) and 'gone' was deleted
    # at version 3 (its tombstone): an imported 'gone' continues after it
    changed = dict(exported[1], reported={"tempTop": 30.5})
    lines = [json.dumps(changed), json.dumps({"id": "gone", "version": 1, "attributes": {"x": 9}})]
    p = ctl(a.db_path, "import", stdin="\n".join(lines) + "\n")
    assert "2 imported (1 new, 1 replaced)" in p.stdout
    ctl(a.db_path, "check")
    assert parse_json(ctl(a.db_path, "get", "gone").stdout)["version"] == 4
    again = parse_json(ctl(a.db_path, "get", changed["id"]).stdout)
    assert again["version"] == exported[1]["version"] + 1 and again["reported"] == {"tempTop": 30.5}
    assert again["versions"]["reported"] == exported[1]["versions"]["reported"] + 1
    assert again["versions"]["attributes"] == exported[1]["versions"]["attributes"]
    # --keep-existing leaves it alone
    p = ctl(a.db_path, "import", "--keep-existing", stdin=json.dumps(exported[1]) + "\n")
    assert "1 skipped (0 unchanged, 1 existing kept)" in p.stdout


def test_a_backup_keeps_alarms(brokers, tmp_path):
    """export, then import into a fresh directory: a modelled twin's alarms come back (the `model`
    member of a get is derived, so the restored broker, with the same models, answers it again), and
    the restored alarm can be acknowledged."""
    models = {"models_dir": os.path.join(HERE, "..", "..", "examples", "models"), "default_model": "rack-th"}
    a = brokers(opts=models)
    r = brokers.track(Requester5(a.port))
    d = brokers.track(Device(a.port, "hot-rack"))
    d.telemetry({"tempTop": 35.0})
    wait_until(lambda: "hot-top" in r.twin("hot-rack").get("alarms", {}), msg="the hot-top alarm")
    before = public(r.twin("hot-rack"))
    assert before["model"] == "rack-th" and before["versions"]["alarms"] == 1
    export = tmp_path / "backup.jsonl"
    ctl(a.db_path, "export", str(export))

    fresh = str(tmp_path / "restored")
    assert "1 imported (1 new" in ctl(fresh, "import", str(export)).stdout
    assert "1 skipped (1 unchanged" in ctl(fresh, "import", str(export)).stdout
    b = brokers(db_path=fresh, opts=models)
    rb = brokers.track(Requester5(b.port))
    assert public(rb.twin("hot-rack")) == before
    acked = rb.ok("$twin/hot-rack/ack", {"alarm": "hot-top"})
    assert acked["version"] == before["version"] + 1


def test_import_of_ditto_things_reads_back_over_mqtt(brokers, tmp_path):
    db = str(tmp_path / "ditto-db")
    p = ctl(db, "import", "--from", "ditto", os.path.join(DATA, "ditto_racks.json"))
    assert p.stdout.startswith("import: 4 imported (4 new")
    assert p.stdout.rstrip().endswith(
        "; definitions: 0 as attributes.model, 2 kept as attributes.definition")
    assert p.stderr == ("twinctl: line 2: definition 'org.acme:rack:1.2.0' kept as "
                        "attributes.definition: no --models DIR given\n")  # once per definition
    p = ctl(db, "import", "--from", "ditto", "-",
            stdin=open(os.path.join(DATA, "ditto_search_page.json")).read())
    assert p.stdout.startswith("import: 2 imported (2 new")
    ctl(db, "check")
    b = brokers(db_path=db)
    r = brokers.track(Requester5(b.port))

    t = r.twin("org.acme.dc1:rack-a01")
    assert t["attributes"] == {"site": "dc1", "row": "A", "position": 1,
                               "location": {"building": "north", "floor": 2},
                               "definition": "org.acme:rack:1.2.0"}  # no --models: kept
    assert t["reported"]["tempTop"] == {"value": 24.1, "unit": "°C"}
    assert t["reported"]["humidityBottom"] == {"value": 45, "unit": "%"}
    assert t["desired"] == {"fan": {"speed": 3}} and t["delta"] == {"fan": {"speed": 3}}
    assert t["version"] == 42 and t["updated"] == 1763882400123 and t["created"] == 1763629200000
    assert t["metadata"]["reported"]["tempTop"]["value"] == {"ts": 1763882400123}

    t = r.twin("org.acme.dc2:rack-b07")
    assert t["reported"]["pdu"] == {"powerW": 11840, "breaker": {"a": "closed", "b": "closed"}}
    assert t["updated"] == 1763882400123  # 08:20:00.123+01:00
    t = r.twin("com.example.lab:rack-07%2Bspare")  # '+' is percent-encoded
    assert t["version"] == 1 and t["reported"]["tempBottom"] == {"value": 18.75}
    assert r.twin("org.acme.dc3:rack-c02")["attributes"]["note"] == \
        'brackets ] and braces } in a "string"'

    # search and telemetry work on the imported twins; versions go on from _revision
    found = r.ok("$twin/search", {"filter": 'eq(attributes/site,"dc1")', "fields": ["id"]})
    assert [i["id"] for i in found["items"]] == ["org.acme.dc1:rack-a01", "org.acme.dc1:rack-a02"]
    d = brokers.track(Device(b.port, "org.acme.dc1:rack-a02"))
    d.telemetry({"tempTop": {"value": 27.0}})
    assert wait_until(lambda: r.twin("org.acme.dc1:rack-a02")["version"] == 18, msg="version 18")


def test_import_reports_bad_records_with_their_lines(tmp_path):
    db = str(tmp_path / "db")
    lines = [
        '{"id":"ok-1","reported":{"t":1}}',
        '{"id":"ok-2",',                                  # 2: not JSON
        '{"id":"bad/id"}',                                # 3: invalid id
        '',
        '{"id":"ok-3","colour":"red"}',                   # 5: unknown member
        '{"id":"ok-4","attributes":{"a":1},"version":7}',
    ]
    p = ctl(db, "import", rc=1, stdin="\n".join(lines) + "\n")
    assert p.stdout.strip() == ("import: 2 imported (2 new, 0 replaced), 0 skipped (0 unchanged, "
                                "0 existing kept), 3 errors (line 2, 3, 5)")
    assert "line 3: invalid twin id 'bad/id'" in p.stderr
    assert "line 5: unknown member 'colour'" in p.stderr
    assert ctl(db, "ls").stdout.splitlines() == ["ok-1", "ok-4"]
    assert parse_json(ctl(db, "get", "ok-4").stdout)["version"] == 7

    strict = str(tmp_path / "strict")
    p = ctl(strict, "import", "--strict", rc=1, stdin="\n".join(lines) + "\n")
    assert "1 error (line 2); stopped at the first error (--strict)" in p.stdout
    assert ctl(strict, "ls").stdout == ""  # the batch with the bad line is not written

    p = ctl(db, "import", "--from", "ditto", rc=1,
            stdin='[{"thingId":"n:1"}, {"thingId":"no-namespace"}, 7]')
    assert "1 imported" in p.stdout and "2 errors (line 1, 1)" in p.stdout


def patch_db(db, old, new):
    """Replaces bytes in the database file (LMDB keeps no checksums: only twinctl's checks notice)."""
    path = os.path.join(db, "data.mdb")
    data = open(path, "rb").read()
    assert data.count(old) == 1 and len(old) == len(new), (old, data.count(old))
    open(path, "wb").write(data.replace(old, new))


def test_check_reports_damaged_twins_and_a_stale_desired_index(tmp_path):
    db = str(tmp_path / "db")
    lines = [{"id": "fine", "reported": {"f": 1}},
             {"id": "damaged", "attributes": {"m": "QQQQQQQQ"}},
             {"id": "stale", "reported": {"g": 1}, "desired": {"g": 7}}]
    ctl(db, "import", stdin="".join(json.dumps(l) + "\n" for l in lines))
    ctl(db, "check")
    patch_db(db, b'{"m":"QQQQQQQQ"}', b'{"m":"QQQQQQQQ"]')  # no longer JSON
    patch_db(db, b'{"g":7}', b'{"g":1}')                   # desired met: no delta, still indexed
    p = ctl(db, "check", rc=1)
    assert "problem: twin 'damaged' does not load" in p.stdout
    assert "problem: twin 'stale' has no delta but is listed in the desired index" in p.stdout
    assert p.stdout.splitlines()[-1] == "check: 3 twins, 2 problems"
    assert "twin 'damaged' is unreadable" in ctl(db, "get", "damaged", rc=1).stderr
    p = ctl(db, "export", rc=1)
    assert [parse_json(l)["id"] for l in p.stdout.splitlines()] == ["fine", "stale"]
    assert "twin 'damaged' is unreadable and left out" in p.stderr


def test_usage_errors_and_missing_databases(tmp_path):
    missing = str(tmp_path / "none")
    assert "no twin database" in ctl(missing, "ls", rc=1).stderr
    assert not os.path.exists(missing)
    assert "unknown command" in ctl(missing, "frobnicate", rc=2).stderr
    assert "usage: twinctl get ID" in ctl(missing, "get", rc=2).stderr
    p = subprocess.run([twinctl_path(), "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "import" in p.stdout and "--from ditto" in p.stdout
    assert "--models DIR" in p.stdout and "model from-wot [--name NAME] FILE|-" in p.stdout


def test_progress_bar_only_on_a_terminal(tmp_path):
    db = str(tmp_path / "db")
    ctl(db, "import", stdin="".join(json.dumps({"id": "p-%04d" % i, "reported": {"n": i}}) + "\n"
                                    for i in range(3000)))
    # stderr a pipe: no bar
    assert "[" not in ctl(db, "export", "-").stderr
    # stderr a terminal: the bar is drawn there, stdout stays clean JSON Lines
    master, slave = pty.openpty()
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.run([twinctl_path(), "-d", db, "export"], stdout=out, stderr=slave,
                           timeout=60)
        os.close(slave)
        err = b""
        try:
            while True:
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                err += chunk
        except OSError:
            pass
        os.close(master)
        out.seek(0)
        lines = out.read().splitlines()
    assert p.returncode == 0 and len(lines) == 3000
    assert all(l.startswith('{"id":"p-') for l in lines)
    assert b"\rexport [" in err and b"exported 3000 twins" in err


def test_import_with_models_makes_definitions_the_models_of_the_twins(brokers, tmp_path):
    # a model of the rack things as Ditto holds them: each feature's values under it
    reading = {"type": "object", "properties": {"value": {"type": "number", "minimum": -40, "maximum": 125},
                                                "unit": {"type": "string"}}}
    rack = {"name": "rack", "title": "Rack of org.acme:rack:1.x",
            "reported": {"type": "object", "properties": {"tempTop": reading, "tempBottom": reading}},
            "desired": {"type": "object", "additionalProperties": False, "properties": {
                "fan": {"type": "object", "properties": {"speed": {"type": "integer", "minimum": 0,
                                                                   "maximum": 5}}}}}}
    models = tmp_path / "models"
    models.mkdir()
    (models / "rack.json").write_text(json.dumps(rack))
    db = str(tmp_path / "db")
    p = ctl(db, "import", "--from", "ditto", "--models", str(models), os.path.join(DATA, "ditto_racks.json"))
    assert p.stdout.strip() == (
        "import: 4 imported (4 new, 0 replaced), 0 skipped (0 unchanged, 0 existing kept), 0 errors; "
        "definitions: 2 as attributes.model, 0 kept as attributes.definition")
    assert p.stderr == ""
    assert "--models needs --from ditto" in ctl(db, "import", "--models", str(models), rc=2).stderr
    assert "models_dir: cannot open" in ctl(db, "import", "--from", "ditto", "--models",
                                            str(tmp_path / "none"), rc=1).stderr

    b = brokers(opts={"models_dir": str(models)}, db_path=db)
    r = brokers.track(Requester5(b.port))
    t = r.twin("org.acme.dc1:rack-a01")  # definition org.acme:rack:1.2.0: rack-1.2.0, else rack
    assert t["model"] == "rack" and t["attributes"]["model"] == "rack"
    assert "definition" not in t["attributes"]
    assert r.ok("$twin/org.acme.dc1:rack-a01/model") == rack
    assert "model" not in r.twin("org.acme.dc2:rack-b07")  # no definition
    a = r.update("org.acme.dc1:rack-a02", {"desired": {"fan": {"speed": 9}}})
    assert a.status == 400 and a.body["error"] == "desired/fan/speed: 9 is above the maximum 5 (model rack)"
    assert r.ok("$twin/org.acme.dc1:rack-a02/update", {"desired": {"fan": {"speed": 4}}})["version"] == 18


RACK_TM = os.path.join(DATA, "rack-th-1.0.0.tm.jsonld")
RACK_TM_URL = "https://models.acme.com/rack-th-1.0.0.tm.jsonld"


def test_model_from_wot_loads_in_a_broker_and_imported_things_follow_it(brokers, tmp_path):
    p = subprocess.run([twinctl_path(), "model", "from-wot", RACK_TM], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    model = parse_json(p.stdout)
    assert model["name"] == "rack-th" and model["version"] == "1.0.0"  # named after the file
    assert model["reported"]["properties"]["tempTop"] == {
        "title": "Temperature, top", "type": "number", "minimum": -40, "maximum": 125, "unit": "°C"}
    assert set(model["desired"]["properties"]) == {"fanSpeed", "mode", "label", "thresholds",
                                                    "resetAlarms"}
    notes = p.stderr.splitlines()
    assert "twinctl: from-wot: left out observable at /properties/tempTop/observable, " \
        "/properties/tempBottom/observable, /properties/humidityTop/observable and 2 more: " \
        "how a property is read, not what it holds" in notes
    assert "twinctl: from-wot: left out maximum at /properties/maxPowerW/maximum: a Thing Model " \
        "placeholder: put the value in the model" in notes
    assert len(notes) == 9
    models = tmp_path / "models"
    models.mkdir()
    (models / "rack-th.json").write_text(p.stdout)

    # Ditto things whose definition is the Thing Model's URL: the twins that conform follow the model
    things = [
        {"thingId": "org.acme.dc4:rack-d01", "definition": RACK_TM_URL, "attributes": {"site": "dc4"}},
        {"thingId": "org.acme.dc4:rack-d02", "definition": RACK_TM_URL,
         "features": {"tempTop": {"properties": {"value": 24.5}}}},  # Ditto's shape: not the model's
        {"thingId": "org.acme.dc4:rack-d03", "definition": "org.acme:rack-th:1.0.0"},
        {"thingId": "org.acme.dc4:pdu-1", "definition": "org.acme:pdu:2.0.0"},
    ]
    db = str(tmp_path / "db")
    p = ctl(db, "import", "--from", "ditto", "--models", str(models),
            stdin="\n".join(json.dumps(t) for t in things) + "\n")
    assert p.stdout.strip() == (
        "import: 4 imported (4 new, 0 replaced), 0 skipped (0 unchanged, 0 existing kept), 0 errors; "
        "definitions: 2 as attributes.model, 2 kept as attributes.definition")
    assert p.stderr.splitlines() == [
        "twinctl: line 2: definition '%s' kept as attributes.definition: it does not conform: "
        "reported/tempTop: expected a number, got an object (model rack-th)" % RACK_TM_URL,
        "twinctl: line 4: definition 'org.acme:pdu:2.0.0' kept as attributes.definition: no model "
        "pdu-2.0.0 or pdu in --models"]

    b = brokers(opts={"models_dir": str(models)}, db_path=db)
    r = brokers.track(Requester5(b.port))
    assert r.ok("$twin/models")["models"] == [model]
    for tid in ("org.acme.dc4:rack-d01", "org.acme.dc4:rack-d03"):
        assert r.twin(tid)["model"] == "rack-th"
        assert r.twin(tid)["attributes"]["model"] == "rack-th"
    assert r.ok("$twin/org.acme.dc4:rack-d01/model") == model
    kept = r.twin("org.acme.dc4:rack-d02")
    assert "model" not in kept and kept["attributes"] == {"definition": RACK_TM_URL}
    found = r.ok("$twin/search", {"filter": "exists(attributes/definition)", "fields": ["id"]})
    assert sorted(i["id"] for i in found["items"]) == ["org.acme.dc4:pdu-1", "org.acme.dc4:rack-d02"]

    # the model checks what the Thing Model says
    tid = "org.acme.dc4:rack-d01"
    a = r.update(tid, {"desired": {"fanSpeed": 9}})
    assert a.status == 400 and a.body["error"] == "desired/fanSpeed: 9 is above the maximum 5 (model rack-th)"
    a = r.update(tid, {"desired": {"tempTop": 20}})  # readOnly: not in desired, which is closed
    assert a.status == 400 and a.body["path"] == "/desired/tempTop"
    a = r.update(tid, {"desired": {"mode": "turbo"}})
    assert a.status == 400 and a.body["path"] == "/desired/mode"
    assert r.ok("$twin/%s/update" % tid, {"desired": {"fanSpeed": 3, "label": "Row D 1"}})["version"] == 2


def test_model_from_wot_usage_and_refusals(tmp_path):
    def run(*args, stdin=None):
        return subprocess.run([twinctl_path(), "model"] + list(args), input=stdin, capture_output=True,
                              text=True, timeout=60)
    tm = open(RACK_TM).read()
    p = run("from-wot", "--name", "rack-x", "-", stdin=tm)
    assert p.returncode == 0 and parse_json(p.stdout)["name"] == "rack-x"
    p = run("from-wot", "-", stdin=tm)
    assert p.returncode == 2 and "give the model a name with --name NAME" in p.stderr
    p = run("from-wot", "--name", "a b", RACK_TM)
    assert p.returncode == 2 and "a model name is 1-64 of A-Z a-z 0-9 . _ -" in p.stderr
    for args in ([], ["to-wot", RACK_TM], ["from-wot"], ["from-wot", RACK_TM, RACK_TM]):
        p = run(*args)
        assert p.returncode == 2 and "usage: twinctl model from-wot [--name NAME] FILE|-" in p.stderr
    bad = tmp_path / "bad.tm.jsonld"
    bad.write_text(json.dumps({"title": "x", "properties": {"a": {"readOnly": True, "writeOnly": True}}}))
    p = run("from-wot", str(bad))
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr == "twinctl: %s: /properties/a: readOnly and writeOnly are both true\n" % bad
    p = run("from-wot", "--name", "x", "-", stdin="{")
    assert p.returncode == 1 and p.stderr.startswith("twinctl: standard input: ")
