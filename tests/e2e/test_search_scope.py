"""$twin/search with plugin_opt_search_scope: two tenants (usernames) each see only their own twins,
through filters, `count`, sorting and cursors (also a cursor taken from the other tenant's listing); a
client without a username sees nothing; an exempt operator sees every twin; the attribute form scopes by
attributes/tenant. The stats answer is plugin-wide (the README says so)."""
import pytest

from clients import Requester5, uniq

ACME = ["rack-%d" % i for i in range(5)]
BETA = ["rack-%d" % i for i in range(3)]


def search(rr, **req):
    a = rr("$twin/search", req)
    assert a.status == 200, "search %r -> %s %r" % (req, a.status, a.body)
    return a.body


def ids(body):
    return [t["id"] for t in body["items"]]


def page_all(rr, **req):
    out = []
    for _ in range(20):
        body = search(rr, **req)
        out += ids(body)
        if "cursor" not in body:
            return out
        req["cursor"] = body["cursor"]
    raise AssertionError("more than 20 pages")


@pytest.fixture
def tenants(brokers):
    """A broker scoped by id prefix <username>: and the clients of two tenants, an operator (exempt)
    and an anonymous client; twins acme:..., beta:..., and look-alikes outside both scopes."""
    b = brokers({"search_scope": "id:%u:", "search_scope_exempt": "ops"})
    c = {name: brokers.track(Requester5(b.port, username=name)) for name in ("acme", "beta", "ops")}
    c["anonymous"] = brokers.track(Requester5(b.port))
    for tid in ["acme:" + r for r in ACME] + ["beta:" + r for r in BETA] + ["acme", "acmeX:1",
                                                                            "acm:1", "zeta:1"]:
        c["ops"].ok("$twin/%s/update" % tid, {"reported": {"temp": len(tid)},
                                               "attributes": {"site": "dc1"}})
    return c


def test_two_tenants_see_only_their_twins_also_by_count_and_cursor(tenants):
    acme, beta = tenants["acme"], tenants["beta"]
    assert page_all(acme, limit=2) == sorted("acme:" + r for r in ACME)
    assert page_all(beta, limit=2) == sorted("beta:" + r for r in BETA)
    assert search(acme, count=True, limit=1)["count"] == len(ACME)
    assert search(beta, count=True, limit=1)["count"] == len(BETA)
    # probing another tenant's twins with a filter and count finds nothing
    for probe in ('eq(id,"acme:rack-1")', 'like(id,"acme*")', 'gt(reported/temp,0)'):
        body = search(beta, filter=probe, count=True)
        assert all(i.startswith("beta:") for i in ids(body)), body
        assert body["count"] == (len(BETA) if "temp" in probe else 0), (probe, body)
    assert search(acme, filter='eq(id,"beta:rack-1")', count=True)["count"] == 0
    # sorted pages with count: the scope holds on every page
    sorted_ids = page_all(acme, sort=["-reported/temp"], count=True, limit=2)
    assert sorted(sorted_ids) == sorted("acme:" + r for r in ACME)
    # a cursor from the other tenant's listing does not widen the scope
    cur = search(beta, limit=1)["cursor"]
    assert search(acme, cursor=cur, count=True)["count"] == len(ACME)
    assert ids(search(acme, cursor=cur)) == []  # acme:... sort before beta:rack-0
    cur = search(acme, limit=1)["cursor"]
    assert ids(search(beta, cursor=cur)) == sorted("beta:" + r for r in BETA)


def test_no_username_sees_nothing_and_an_exempt_operator_everything(tenants):
    body = search(tenants["anonymous"], count=True)
    assert body["items"] == [] and body["count"] == 0 and "cursor" not in body
    everything = search(tenants["ops"], count=True, limit=200)
    assert everything["count"] == len(ACME) + len(BETA) + 4
    # a get is not scoped by the plugin: the broker's ACL decides who may read which twin
    assert tenants["ops"]("$twin/zeta:1/get").status == 200


def test_an_attribute_scope(brokers):
    b = brokers({"search_scope": "attributes/tenant=%u"})
    ops = brokers.track(Requester5(b.port, username="ops"))
    acme = brokers.track(Requester5(b.port, username="acme"))
    p = uniq("attr")
    for i in range(4):
        ops.ok("$twin/%s-%d/update" % (p, i), {"attributes": {"tenant": "acme" if i % 2 else "beta"}})
    ops.ok("$twin/%s-x/update" % p, {"reported": {"tenant": "acme"}})  # reported never decides
    body = search(acme, count=True, limit=1)
    assert body["count"] == 2 and ids(body) == ["%s-1" % p]
    assert page_all(acme, limit=1) == ["%s-1" % p, "%s-3" % p]
    assert search(ops, count=True)["count"] == 0  # ops is no tenant and not exempt here
