"""$twin/search: the RQL filter (every operator, on attributes/reported/desired/delta/
id/version, strings/numbers/booleans/null), sort with id tie-break, limit, keyset
paging with cursor (also across writes between pages), count, fields, token, MQTT v5
and 3.1.1, 400s (with the position of a malformed filter), read-your-writes, and a
full scan of a few thousand twins that does not hold up a GET.

The module broker is shared: every test works on twins with an id prefix of its own
and filters on it with like(id,"<prefix>-*")."""
import base64
import json
import time

import pytest

from clients import TIMEOUT, Client, Device, Requester5, corr_of, parse_json, uniq, wait_until


def search(rr5, req=None, timeout=TIMEOUT, **kw):
    """A search that must succeed; returns the body."""
    a = rr5("$twin/search", req if req is not None else kw, timeout=timeout)
    assert a.status == 200, "search %r -> %s %r" % (req or kw, a.status, a.body)
    return a.body


def bad_search(rr5, req):
    """A search that must be refused with 400; returns the error text."""
    a = rr5("$twin/search", req)
    assert a.status == 400, "search %r -> %s %r (expected 400)" % (req, a.status, a.body)
    assert a.body["status"] == 400
    return a.body["error"]


def ids(body):
    return [item["id"] for item in body["items"]]


def within(prefix, filt=None):
    """The filter restricted to this test's twins."""
    mine = 'like(id,"%s-*")' % prefix
    return mine if filt is None else "and(%s,%s)" % (mine, filt)


def page_all(rr5, req, max_pages=100):
    """Follow the cursor to the last page; returns (all ids in order, pages)."""
    req = dict(req)
    out, pages = [], []
    for _ in range(max_pages):
        body = search(rr5, req)
        pages.append(body)
        out += ids(body)
        if "cursor" not in body:
            return out, pages
        assert isinstance(body["cursor"], str) and body["cursor"]
        assert len(body["items"]) == req.get("limit", 25), \
            "a page with a cursor must be full: %d items" % len(body["items"])
        req["cursor"] = body["cursor"]
    raise AssertionError("more than %d pages" % max_pages)


def telemetry_many(port, payloads):
    """Create/update many twins fast: QoS 0 telemetry on one connection, then one QoS 1
    message on the same connection, so the broker has them all when this returns."""
    c = Client(port)
    try:
        items = list(payloads.items())
        for tid, p in items[:-1]:
            c.publish("devices/%s/telemetry" % tid, p, qos=0)
        tid, p = items[-1]
        c.publish("devices/%s/telemetry" % tid, p, qos=1)
    finally:
        c.close()


# ------------------------------------------------------------------ the dataset

# six twins: mixed types per path, nested objects, absent paths, desired (delta)
DATA = {
    "a": {"attributes": {"site": "dc1", "row": "A", "pos": 1, "active": True},
          "reported": {"temp": 20.5, "mode": "auto", "ok": True, "list": [1, 2],
                       "env": {"hum": 40}}},
    "b": {"attributes": {"site": "dc1", "row": "B", "pos": 2, "active": False},
          "reported": {"temp": 31, "mode": "manual"}},
    "c": {"attributes": {"site": "dc2", "row": "A", "pos": 3, "active": True},
          "reported": {"temp": 35.5, "mode": "auto", "ok": False, "env": {"hum": 55}}},
    "d": {"attributes": {"site": "dc2", "pos": "4"}, "reported": {"temp": "hot"}},
    "e": {"attributes": {"name": 'a"b\\c'}},
    "f": {"attributes": {"site": "dc3", "row": "C", "pos": 10},
          "reported": {"temp": 31, "neg": -2.5}},
}
# extra updates of desired/x (1, 2, ...) -> versions a1 b2 c3 d1 e1 f2
BUMPS = {"b": 1, "c": 2, "f": 1}
ALL = "abcdef"


@pytest.fixture(scope="module")
def ds(module_broker):
    """(prefix, full id of a suffix) of the six twins above, created once per module."""
    prefix = uniq("srch")
    r = Requester5(module_broker.port)
    try:
        for k, sections in DATA.items():
            r.ok(f"$twin/{prefix}-{k}/update", sections)
            for i in range(BUMPS.get(k, 0)):
                r.ok(f"$twin/{prefix}-{k}/update", {"desired": {"x": i + 1}})
    finally:
        r.close()
    return prefix


def found(rr5, prefix, filt, **kw):
    body = search(rr5, filter=within(prefix, filt), limit=200, **kw)
    return "".join(i[len(prefix) + 1:] for i in ids(body))


FILTER_CASES = [
    # eq: same type and value
    ('eq(attributes/site,"dc1")', "ab"),
    ("eq(attributes/pos,4)", ""),                  # "4" is a string
    ('eq(attributes/pos,"4")', "d"),
    ("eq(attributes/pos,1e1)", "f"),               # numbers are values: 10 == 1e1 == 10.0
    ("eq(attributes/pos,10.0)", "f"),
    ("eq(attributes/active,true)", "ac"),
    ("eq(attributes/active,false)", "b"),
    ("eq(reported/temp,31)", "bf"),
    ("eq(reported/temp,null)", ""),                # stored sections hold no null
    ("eq(reported/nosuch,null)", ""),              # absent is not null
    ('eq(attributes/name,"a\\"b\\\\c")', "e"),     # escaped " and \
    ("eq(desired/x,2)", "c"),
    ("eq(reported/env/hum,55)", "c"),
    # ne: also true when absent
    ('ne(attributes/site,"dc1")', "cdef"),
    ("ne(attributes/site,null)", ALL),
    ("ne(attributes/active,true)", "bdef"),
    ('ne(reported/temp,"hot")', "abcef"),
    # gt ge lt le: numbers with numbers, strings with strings, nothing else
    ("gt(reported/temp,31)", "c"),
    ("ge(reported/temp,31)", "bcf"),
    ("lt(reported/temp,31)", "a"),
    ("le(reported/temp,31)", "abf"),
    ("lt(reported/temp,20.5)", ""),
    ("le(reported/temp,20.5)", "a"),
    ('gt(reported/temp,"a")', "d"),                # "hot" > "a"; numbers are not strings
    ('lt(reported/temp,"a")', ""),
    ('lt(attributes/row,"B")', "ac"),
    ('ge(attributes/row,"B")', "bf"),
    ('le(attributes/row,"B")', "abc"),
    ('gt(attributes/row,"B")', "f"),
    ("gt(attributes/active,false)", ""),           # booleans are not ordered
    ("ge(attributes/active,true)", ""),
    ("gt(reported/temp,null)", ""),
    ("lt(reported/neg,0)", "f"),
    ("ge(reported/neg,-2.5)", "f"),
    ("gt(reported/env/hum,50)", "c"),
    # in: any of the values, same type
    ('in(attributes/site,"dc2","dc3")', "cdf"),
    ('in(attributes/pos,1,"4")', "ad"),
    ("in(attributes/pos,4)", ""),
    ("in(attributes/active,true)", "ac"),
    ("in(attributes/active,null,false)", "b"),
    # like: * any run, ? one character, strings only
    ('like(attributes/site,"dc?")', "abcdf"),
    ('like(attributes/site,"?c1")', "ab"),
    ('like(reported/mode,"m*l")', "b"),
    ('like(reported/mode,"*a*")', "abc"),
    ('like(reported/mode,"auto?")', ""),
    ('like(attributes/row,"*")', "abcf"),
    ('like(attributes/pos,"1")', ""),              # a number is not a string
    ('like(attributes/name,"a*c")', "e"),
    ('like(id,"*-?")', ALL),
    # exists
    ("exists(reported/ok)", "ac"),                 # present, even when false
    ("exists(reported/list)", "a"),
    ("exists(reported/env/hum)", "ac"),
    ("exists(attributes)", ALL),
    ("exists(desired/x)", "bcf"),
    ("exists(delta/x)", "bcf"),                    # delta is derived and searchable
    ("exists(reported/temp/x)", ""),
    # and / or / not, nesting
    ('and(eq(attributes/site,"dc1"),gt(reported/temp,30))', "b"),
    ('and(exists(attributes/row),eq(reported/mode,"auto"),lt(version,2))', "a"),
    ('or(eq(attributes/row,"C"),eq(reported/mode,"manual"))', "bf"),
    ('or(eq(id,"nope"),eq(attributes/pos,3),eq(attributes/pos,"4"))', "cd"),
    ("not(exists(attributes/site))", "e"),
    ('not(or(eq(attributes/site,"dc1"),eq(attributes/site,"dc2")))', "ef"),
    ('and(not(eq(attributes/active,true)),or(exists(reported/mode),exists(reported/neg)))', "bf"),
    # id, version, updated, created
    ("eq(id,\"{p}-c\")", "c"),
    ('gt(id,"{p}-d")', "ef"),
    ('in(id,"{p}-a","{p}-zz")', "a"),
    ('ne(id,"{p}-a")', "bcdef"),
    ("exists(id)", ALL),
    ("eq(version,2)", "bf"),
    ("ge(version,2)", "bcf"),
    ("lt(version,2)", "ade"),
    ("gt(version,2)", "c"),
    ("gt(updated,0)", ALL),
    ("ge(created,1)", ALL),
    # whitespace between tokens
    (' and( eq(attributes/site, "dc1") ,\n\texists(reported/ok) ) ', "a"),
]


@pytest.mark.parametrize("filt,expected", FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_filter_operators(broker, rr5, ds, filt, expected):
    filt = filt.replace("{p}", ds)
    assert found(rr5, ds, filt) == expected, filt


def test_without_filter_all_twins_by_id(broker, rr5, ds):
    body = search(rr5, limit=200, count=True)
    got = ids(body)
    assert got == sorted(got), "default order is by id"
    assert [i for i in got if i.startswith(ds + "-")] == ["%s-%s" % (ds, k) for k in ALL]
    assert body["count"] >= 6


SORT_CASES = [
    (None, "abcdef"),
    (["id"], "abcdef"),
    (["-id"], "fedcba"),
    # numbers < strings < booleans < null < absent; ties by id
    (["reported/temp"], "abfcde"),
    (["+reported/temp"], "abfcde"),
    (["-reported/temp"], "edcbfa"),        # reversed per key, the id still breaks ties
    (["attributes/active"], "bacdef"),     # false < true, then the absent ones by id
    (["-attributes/active"], "defacb"),
    (["attributes/pos"], "abcfde"),        # 1 2 3 10, then "4", then absent
    (["attributes/site", "-version"], "bacdfe"),
    (["-desired/x", "reported/temp"], "adecbf"),   # absent first when descending
    (["reported/mode", "-reported/temp", "+id"], "cabedf"),
]


@pytest.mark.parametrize("sort,expected", SORT_CASES, ids=[str(c[0]) for c in SORT_CASES])
def test_sort(broker, rr5, ds, sort, expected):
    req = {"filter": within(ds), "limit": 200}
    if sort is not None:
        req["sort"] = sort
    body = search(rr5, req)
    assert "".join(i[len(ds) + 1:] for i in ids(body)) == expected, sort
    assert "cursor" not in body


def test_sort_paging_over_ties_and_absent_values(broker, rr5, ds):
    # pages of 2 through ["-reported/temp"]: e d | c b | f a; the tie b/f is split
    # across pages and the last page is full but has no cursor
    got, pages = page_all(rr5, {"filter": within(ds), "sort": ["-reported/temp"], "limit": 2})
    assert "".join(i[len(ds) + 1:] for i in got) == "edcbfa"
    assert [len(p["items"]) for p in pages] == [2, 2, 2]
    got, pages = page_all(rr5, {"filter": within(ds), "sort": ["attributes/active"], "limit": 4})
    assert "".join(i[len(ds) + 1:] for i in got) == "bacdef"
    assert [len(p["items"]) for p in pages] == [4, 2]


def test_sort_refusals(broker, rr5):
    assert "at most 4" in bad_search(rr5, {"sort": ["a", "b", "c", "d", "e"]})
    assert search(rr5, {"sort": ["a", "b", "c", "+id"], "limit": 1})
    for sort in ("-reported/t", ["-"], [""], ["/a"], ["a//b"], [5], {"id": 1}):
        err = bad_search(rr5, {"sort": sort})
        assert "sort" in err, err


# ------------------------------------------------------------------ limit, paging, count

def test_limit_default_25_and_max_200(broker, rr5):
    p = uniq("srch-lim")
    telemetry_many(broker.port, {"%s-%03d" % (p, i): {"n": i} for i in range(205)})
    expected = ["%s-%03d" % (p, i) for i in range(205)]
    first = search(rr5, filter=within(p), count=True)
    assert ids(first) == expected[:25]
    assert first["count"] == 205 and "cursor" in first
    big = search(rr5, filter=within(p), limit=200)
    assert ids(big) == expected[:200] and "cursor" in big
    rest = search(rr5, filter=within(p), limit=200, cursor=big["cursor"])
    assert ids(rest) == expected[200:] and "cursor" not in rest
    one = search(rr5, filter=within(p), limit=1)
    assert ids(one) == expected[:1] and "cursor" in one
    for limit in (201, 0, -1, 1000, 2.5, "10", True, None):
        err = bad_search(rr5, {"filter": within(p), "limit": limit})
        assert "limit" in err, err


@pytest.mark.parametrize("sort", [None, ["-reported/n"], ["reported/g", "-reported/n"]])
def test_paging_returns_every_match_exactly_once(broker, rr5, sort):
    p = uniq("srch-page")
    # n distinct, g in groups of 4 (ties), every 5th twin without n
    data = {}
    for i in range(31):
        rep = {"g": i % 4}
        if i % 5:
            rep["n"] = (i * 17) % 31
        data["%s-%02d" % (p, i)] = rep
    telemetry_many(broker.port, data)
    req = {"filter": within(p), "limit": 7, "count": True}
    if sort:
        req["sort"] = sort
    got, pages = page_all(rr5, req)
    assert sorted(got) == sorted(data), "missing or extra twins"
    assert len(got) == len(set(got)), "a twin came twice: %r" % got
    assert [len(pg["items"]) for pg in pages] == [7, 7, 7, 7, 3]
    assert all(pg["count"] == 31 for pg in pages)
    whole = ids(search(rr5, dict(req, limit=200)))
    assert got == whole, "paging must give the same order as one big page"


def test_count(broker, rr5, ds):
    p = uniq("srch-cnt")
    none = search(rr5, filter=within(p), count=True)
    assert none == {"items": [], "count": 0}
    body = search(rr5, filter=within(ds, "exists(reported/temp)"), count=True, limit=2)
    assert body["count"] == 5 and len(body["items"]) == 2
    nxt = search(rr5, filter=within(ds, "exists(reported/temp)"), count=True, limit=2,
                 cursor=body["cursor"])
    assert nxt["count"] == 5, "count is the number of all matches, on every page"
    body = search(rr5, filter=within(ds), count=True, sort=["-version"], limit=3)
    assert body["count"] == 6 and ids(body) == [ds + "-c", ds + "-b", ds + "-f"]
    without = search(rr5, filter=within(ds))
    assert "count" not in without
    off = search(rr5, filter=within(ds), count=False)
    assert "count" not in off


def test_paging_stays_correct_when_twins_change_between_pages(broker, rr5):
    p = uniq("srch-live")
    tid = lambda i: "%s-%02d" % (p, i)  # noqa: E731
    rr5.ok(f"$twin/{tid(0)}/update", {"reported": {"n": 0}})
    telemetry_many(broker.port, {tid(i): {"n": i} for i in range(1, 20)})

    # ordered by id
    first = search(rr5, filter=within(p), limit=5)
    assert ids(first) == [tid(i) for i in range(5)]
    rr5.ok(f"$twin/{p}-02a/update", {"reported": {"n": 2.5}})      # sorts before the cursor
    rr5.ok(f"$twin/{tid(1)}/update", {"reported": {"n": 100}})     # before the cursor, changed
    assert rr5(f"$twin/{tid(7)}/delete").status == 200             # after the cursor, deleted
    rr5.ok(f"$twin/{p}-15a/update", {"reported": {"n": 15.5}})     # after the cursor, new
    rr5.ok(f"$twin/{tid(10)}/update", {"reported": {"n": 1000}})   # after the cursor, changed
    rest, _ = page_all(rr5, {"filter": within(p), "limit": 5, "cursor": first["cursor"]})
    expected = [tid(i) for i in range(5, 20) if i != 7]
    expected.insert(expected.index(tid(15)) + 1, p + "-15a")
    assert rest == expected

    # ordered by a value: the cursor holds the last row's sort key
    srt = {"filter": within(p), "limit": 5, "sort": ["reported/n"]}
    first = search(rr5, srt)
    assert ids(first) == [tid(0), tid(2), p + "-02a", tid(3), tid(4)]
    rr5.ok(f"$twin/{tid(2)}/update", {"reported": {"n": 3.5}})      # still before the cursor
    rr5.ok(f"$twin/{tid(12)}/update", {"reported": {"n": -1}})      # moves before the cursor
    rr5.ok(f"$twin/{tid(13)}/update", {"reported": {"n": 8.5}})     # moves, stays after it
    rr5.ok(f"$twin/{p}-new/update", {"reported": {"n": 4.5}})       # new, after the cursor
    rr5.ok(f"$twin/{p}-old/update", {"reported": {"n": 3.9}})       # new, before the cursor
    rest, _ = page_all(rr5, dict(srt, cursor=first["cursor"]))
    assert rest == [p + "-new", tid(5), tid(6), tid(8), tid(13), tid(9), tid(11), tid(14),
                    tid(15), p + "-15a", tid(16), tid(17), tid(18), tid(19), tid(1), tid(10)]
    seen = ids(first) + rest
    assert len(seen) == len(set(seen)), "a twin came twice"


def test_cursor_refusals(broker, rr5, ds):
    body = search(rr5, filter=within(ds), limit=2)
    for cursor in ("!!not-base64!!", "abc", "", 5):
        err = bad_search(rr5, {"filter": within(ds), "limit": 2, "cursor": cursor})
        assert "cursor" in err, err
    # a cursor of an id-ordered listing does not fit a listing with 2 sort keys
    err = bad_search(rr5, {"filter": within(ds), "limit": 2, "cursor": body["cursor"],
                           "sort": ["reported/temp", "version"]})
    assert "cursor" in err, err


def test_a_hand_made_cursor_with_an_empty_or_over_long_id_is_refused(broker, rr5, ds):
    def cursor(twin_id):
        raw = json.dumps({"k": [], "i": twin_id}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    for bad in ("", "x" * 257, "x" * 600):
        for req in ({"cursor": cursor(bad)}, {"cursor": cursor(bad), "count": True}):
            err = bad_search(rr5, req)
            assert "invalid 'cursor'" in err and "empty or longer than 256 bytes" in err, err
    # the longest id is a valid place to continue after
    assert search(rr5, filter=within(ds), cursor=cursor("x" * 256))["items"] == []


# ------------------------------------------------------------------ fields, token, presence

def test_fields(broker, rr5, ds):
    body = search(rr5, filter=within(ds), fields=["attributes/site", "reported/temp", "nosuch"])
    by = {i["id"][len(ds) + 1:]: i for i in body["items"]}
    assert by["a"] == {"id": ds + "-a", "version": 1, "attributes": {"site": "dc1"},
                       "reported": {"temp": 20.5}}
    assert by["c"] == {"id": ds + "-c", "version": 3, "attributes": {"site": "dc2"},
                       "reported": {"temp": 35.5}}
    assert by["e"] == {"id": ds + "-e", "version": 1}
    body = search(rr5, filter=within(ds, 'eq(id,"%s-b")' % ds),
                  fields=["desired", "delta", "versions/desired"])
    assert body["items"] == [{"id": ds + "-b", "version": 2, "desired": {"x": 1},
                              "delta": {"x": 1}, "versions": {"desired": 1}}]
    full = search(rr5, filter=within(ds, 'eq(id,"%s-a")' % ds))["items"][0]
    assert set(full) == {"id", "version", "created", "updated", "attributes", "reported",
                         "desired", "delta", "metadata", "versions", "connected"}
    assert full["attributes"] == DATA["a"]["attributes"]
    assert full["reported"] == DATA["a"]["reported"]
    assert full["metadata"]["reported"]["env"]["hum"]["ts"] == full["created"]
    for fields in ("reported", [1], [""], ["x"] * 65):
        err = bad_search(rr5, {"filter": within(ds), "fields": fields})
        assert "fields" in err, err


def test_search_results_say_who_is_connected(broker, rr5):
    """`connected` as get says it: live presence, filled in by the broker thread, in full items and
    when `fields` asks for it."""
    tid, other = uniq("srch-pres"), uniq("srch-pres")
    dev = Device(broker.port, tid)
    try:
        dev.telemetry({"t": 1})
        rr5.ok("$twin/%s/update" % other, {"reported": {"t": 2}})
        assert rr5.twin(tid)["connected"] is True
        both = 'or(eq(id,"%s"),eq(id,"%s"))' % (tid, other)
        items = {i["id"]: i for i in search(rr5, filter=both)["items"]}
        assert items[tid]["connected"] is True and items[other]["connected"] is False
        assert items[tid]["lastSeen"] > 0 and items[tid]["reported"] == {"t": 1}
        sel = search(rr5, filter='eq(id,"%s")' % tid, fields=["connected", "reported"])
        assert sel["items"] == [{"id": tid, "version": 1, "reported": {"t": 1}, "connected": True}]
        sel = search(rr5, filter='eq(id,"%s")' % tid, fields=["reported"])
        assert sel["items"] == [{"id": tid, "version": 1, "reported": {"t": 1}}]
    finally:
        dev.close()
    wait_until(lambda: rr5.twin(tid)["connected"] is False, msg="the device gone")
    item = search(rr5, filter='eq(id,"%s")' % tid, fields=["connected"])["items"][0]
    assert item == {"id": tid, "version": 1, "connected": False}


def test_token_echo_v5(broker, rr5, ds):
    body = search(rr5, filter=within(ds), limit=1, token="tok-1")
    assert body["token"] == "tok-1" and len(body["items"]) == 1 and "cursor" in body
    assert "token" not in body["items"][0]
    a = rr5("$twin/search", {"filter": "eq(id,", "token": "tok-err"})
    assert a.status == 400 and a.body["token"] == "tok-err"
    a = rr5("$twin/search", {"filter": within(ds), "limit": 300, "token": "tok-lim"})
    assert a.status == 400 and a.body["token"] == "tok-lim"


def test_v311_accepted_and_rejected(broker, rr311, ds):
    ok = rr311("$twin/search", {"filter": within(ds, "gt(reported/temp,30)"), "count": True,
                                "token": "s311"}, token="s311")
    assert ok.outcome == "accepted" and ok.topic == "$twin/search/accepted"
    assert ids(ok.body) == [ds + "-b", ds + "-c", ds + "-f"]
    assert ok.body["count"] == 3 and ok.body["token"] == "s311"
    bad = rr311("$twin/search", {"filter": "nope(", "token": "r311"}, token="r311")
    assert bad.outcome == "rejected" and bad.topic == "$twin/search/rejected"
    assert bad.body["status"] == 400 and bad.body["token"] == "r311"
    assert "position 0" in bad.body["error"]


def test_empty_payload_lists_all_twins(broker, rr5, rr311, ds):
    """An empty (zero-byte) payload, as `mosquitto_rr -n` sends it: all twins, by id,
    first page of 25."""
    body = rr5.ok("$twin/search", b"")
    got = ids(body)
    assert got == sorted(got) and 1 <= len(got) <= 25
    empty = rr311("$twin/search")
    assert empty.outcome == "accepted" and ids(empty.body) == got


def test_v5_without_response_topic(broker, ds):
    c = Client(broker.port, v5=True)
    try:
        c.publish("$twin/search", {"filter": within(ds, 'eq(attributes/site,"dc3")')})
        m = c.get(desc="search answer")
        assert m.topic == "$twin/search/accepted"
        assert ids(parse_json(m.payload)) == [ds + "-f"]
        c.publish("$twin/search", {"limit": 201})
        m = c.get(desc="search refusal")
        assert m.topic == "$twin/search/rejected"
        assert parse_json(m.payload)["status"] == 400
    finally:
        c.close()


# ------------------------------------------------------------------ refusals

MALFORMED = [
    # (filter, position, what the error names)
    ('eq(id,', 6, "found the end"),
    ('and(eq(id,"x")', 14, "')'"),
    ('eq(id,"x"))', 10, "the end of the filter"),
    ('foo(id,1)', 0, "operator"),
    ('EQ(id,1)', 0, "operator"),
    ('eq(id "x")', 6, "','"),
    ('eq(,1)', 3, "path"),
    ('eq(/a,1)', 3, "path"),
    ('eq(id,"abc', 10, "'\"'"),
    ('eq(id,abc)', 6, "value"),
    ('and(eq(id,"x"),)', 15, "operator"),
    ('not(eq(id,1),eq(id,2))', 12, "')'"),
    ('eq(id,1)x', 8, "the end of the filter"),
    ('in(id)', 5, "','"),
    ('exists(id,1)', 9, "')'"),
    ('eq(id,1,2)', 7, "')'"),
    ('and(eq(id,"x"),or(eq(id,"y"),gt(version,1))', 43, "')'"),
]


@pytest.mark.parametrize("filt,pos,what", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_filter_names_the_position(broker, rr5, filt, pos, what):
    err = bad_search(rr5, {"filter": filt})
    assert err.startswith("filter:"), err
    assert "position %d" % pos in err, "expected position %d (0-based offset) in %r" % (pos, err)
    assert what in err, err


def test_other_refusals(broker, rr5):
    assert "like" in bad_search(rr5, {"filter": "like(id,5)"})
    assert "filter" in bad_search(rr5, {"filter": 5})
    assert "filter" in bad_search(rr5, {"filter": "eq(id,\"" + "x" * 5000 + "\")"})
    assert "count" in bad_search(rr5, {"count": "yes"})
    for unknown in ("query", "desired", "version", "offset"):
        err = bad_search(rr5, {unknown: 1})
        assert "unknown field '%s'" % unknown in err, err
    for payload in (b"{bad", b"[1]", b"\"x\"", b'{"limit":1,"limit":2}', b'{"limit":1} x'):
        a = rr5("$twin/search", payload)
        assert a.status == 400, (payload, a.status, a.body)
    a = rr5("$twin/search", b"x" * 70000)
    assert a.status == 413, (a.status, a.body)


# ------------------------------------------------------------------ read-your-writes

def test_search_sees_an_answered_update_at_once(broker, rr5):
    tid = uniq("srch-ryw")
    for i in range(15):
        up = rr5.ok(f"$twin/{tid}/update", {"reported": {"v": i}, "attributes": {"k": "v%d" % i}})
        body = search(rr5, filter='and(eq(id,"%s"),eq(reported/v,%d),eq(attributes/k,"v%d"))'
                      % (tid, i, i))
        assert ids(body) == [tid], "search right after update #%d missed it" % i
        assert body["items"][0]["version"] == up["version"]
    assert rr5(f"$twin/{tid}/delete").status == 200
    assert search(rr5, filter='eq(id,"%s")' % tid, count=True) == {"items": [], "count": 0}


def test_search_sees_acknowledged_telemetry_at_once(broker, rr5):
    # default commit_interval_ms is 100: without read-your-writes the search would run
    # before the telemetry was committed
    p = uniq("srch-rywt")
    dev = Client(broker.port, v5=False)
    try:
        for i in range(15):
            dev.publish("devices/%s-%02d/telemetry" % (p, i), {"v": i}, qos=1)   # PUBACKed
            body = search(rr5, filter=within(p), count=True, sort=["-reported/v"], limit=1)
            assert body["count"] == i + 1, "search after telemetry #%d: %r" % (i, body)
            assert ids(body) == ["%s-%02d" % (p, i)]
            dev.publish("devices/%s-00/telemetry" % p, {"w": i}, qos=1)
            body = search(rr5, filter=within(p, "eq(reported/w,%d)" % i))
            assert ids(body) == ["%s-00" % p], "update of an existing twin by telemetry #%d" % i
    finally:
        dev.close()


# ------------------------------------------------------------------ a big scan off the broker thread

def test_full_scan_does_not_delay_a_get(brokers):
    b = brokers()
    n = 3000
    p = "big"
    data = {"%s-%05d" % (p, i): {"t%d" % k: (i * 7 + k * 13) % 1000 for k in range(20)}
            for i in range(n)}
    telemetry_many(b.port, data)
    searcher = brokers.track(Requester5(b.port))
    getter = brokers.track(Requester5(b.port))
    # 3000 messages put the writer more than 256 operations behind: a search then answers from what is
    # committed without waiting, so wait here until all of it is
    wait_until(lambda: search(searcher, count=True, limit=1, timeout=30)["count"] == n, timeout=60,
               msg="all %d twins committed" % n)

    req = {"filter": "gt(reported/t3,500)", "sort": ["-reported/t5", "reported/t1"],
           "count": True, "limit": 200}
    matches = [(tid, r) for tid, r in data.items() if r["t3"] > 500]
    matches.sort(key=lambda x: (-x[1]["t5"], x[1]["t1"], x[0]))
    expected = [tid for tid, _ in matches[:200]]

    timings = []
    for _ in range(3):
        # several full scans queued on the search thread (they run one at a time)
        t0 = time.time()            # Msg.t (arrival time) is time.time() too
        corrs = [searcher.send("$twin/search", req) for _ in range(12)]
        time.sleep(0.005)
        g0 = time.monotonic()
        g = getter("$twin/%s-00010/get" % p)
        get_rtt = time.monotonic() - g0
        assert g.status == 200 and g.body["reported"] == data["%s-00010" % p]
        answers = []
        for c in corrs:
            m = searcher.client.get(lambda m, c=c: corr_of(m) == c, timeout=30,
                                    desc="search answer")
            answers.append(m)
        search_time = answers[-1].t - t0
        # searches are answered one at a time, in order
        assert [a.t for a in answers] == sorted(a.t for a in answers)
        for m in answers:
            body = parse_json(m.payload)
            assert body["count"] == len(matches)
            assert ids(body) == expected
            assert "cursor" in body
        timings.append((get_rtt, search_time))
    # the GET was answered while the scans ran: well before they were done
    print("GET round trip, time of the 12 searches (s):", timings)
    overlapping = [(g, s) for g, s in timings if s > 0.1]
    if not overlapping:
        pytest.skip("scans too fast to overlap a GET here: %r" % timings)
    for get_rtt, search_time in overlapping:
        assert get_rtt < 0.25, "GET took %.0f ms while searches ran (%.0f ms)" % (
            get_rtt * 1000, search_time * 1000)
        assert get_rtt < search_time / 2, timings
