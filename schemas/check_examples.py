#!/usr/bin/env python3
"""Check the JSON Schemas in schemas/ and the README's examples against them.

Run: /usr/bin/python3 schemas/check_examples.py   (from anywhere; paths are
relative to this file). Exits 0 when everything passes, 1 on any failure,
printing one line per failure.

What it checks:
  1. Every schemas/*.json is a valid draft 2020-12 schema with `$schema`,
     an `$id` of https://mosquitto-twin.dev/schemas/<file name>, a title and a
     description, and every `$ref` in it is relative and resolves.
  2. The README's ```json blocks: the twin document (against twin.json and
     get.response.json), the $twin/stats example (stats.response.json) and the
     change event (event.json).
     A block is matched to a schema by its keys, or explicitly by an HTML
     comment on the line before its fence: `<!-- schema: update.response.json -->`
     (`<!-- schema: none -->` skips a block). A block that matches nothing fails.
     The twin, stats and event blocks must exist. Documents of the compatibility
     fronts are matched by their keys too (aws-shadow.*.json, azure-twin.*.json),
     except the look-alike AWS get/accepted, update/accepted and update/delta
     documents, which need a mark.
  3. The README's inline examples: JSON objects in the payload column of the
     `$twin/...` request table (against <verb>.request.json; placeholders
     `{..}` and `[...]` are read as an empty object / array), inline error bodies
     (error.json), and the shell examples (a line ending in `\` continues on the
     next): `-m '<json>'` of mosquitto_rr/_pub on `$twin/<id>/<verb>` and
     `$twin/search` (against <verb>.request.json; the search example must
     exist), of `$aws/things/<thing>/shadow[/name/<shadow>]/update`
     (aws-shadow.update.request.json), telemetry payloads (must be JSON objects) and the ids in example
     topics (twin.json#/$defs/id).
  4. A few built-in documents that each schema must accept or reject, so that a
     schema that silently became permissive is noticed.

Needs python3-jsonschema (4.10 on Debian 12; newer versions work too).
"""

import copy
import json
import re
import shlex
import sys
from pathlib import Path
from urllib.parse import urljoin

import jsonschema
from jsonschema import Draft202012Validator

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
BASE = "https://mosquitto-twin.dev/schemas/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

failures = []
checks = 0


def fail(msg):
    failures.append(msg)


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        fail(msg)
    return cond


# ---- 1. the schemas themselves ----

def load_schemas():
    schemas = {}
    for path in sorted(HERE.glob("*.json")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            fail(f"{path.name}: not JSON: {e}")
            continue
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            fail(f"{path.name}: not a valid 2020-12 schema: {e.message}")
            continue
        check(schema.get("$schema") == DRAFT, f"{path.name}: $schema is not {DRAFT}")
        check(schema.get("$id") == BASE + path.name,
              f"{path.name}: $id is {schema.get('$id')!r}, expected {BASE + path.name!r}")
        for key in ("title", "description"):
            check(isinstance(schema.get(key), str) and schema[key].strip(),
                  f"{path.name}: missing {key}")
        schemas[path.name] = schema
    return schemas


def iter_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from iter_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from iter_refs(v)


class Schemas:
    """Validators that resolve cross-file $refs by $id, without network."""

    def __init__(self, schemas):
        self.schemas = schemas
        self.by_id = {s["$id"]: s for s in schemas.values() if "$id" in s}
        try:  # jsonschema >= 4.18
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012
            self.registry = Registry().with_resources(
                (uri, Resource.from_contents(s, default_specification=DRAFT202012))
                for uri, s in self.by_id.items())
        except ImportError:  # jsonschema 4.10 (Debian 12)
            self.registry = None

    def validator(self, schema):
        if self.registry is not None:
            return Draft202012Validator(schema, registry=self.registry)
        resolver = jsonschema.RefResolver(base_uri=schema.get("$id", ""), referrer=schema,
                                          store=dict(self.by_id))
        return Draft202012Validator(schema, resolver=resolver)

    def resolve(self, name, ref):
        """Raise if `ref` inside schema `name` does not resolve."""
        schema = self.schemas[name]
        if self.registry is not None:
            self.registry.resolver(base_uri=schema["$id"]).lookup(ref)
        else:
            jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema,
                                   store=dict(self.by_id)).resolve(ref)

    def errors(self, name, instance):
        schema = self.schemas.get(name)
        if schema is None:
            return [f"no schema {name}"]
        try:
            errs = sorted(self.validator(schema).iter_errors(instance), key=lambda e: list(e.path))
        except Exception as e:  # an unresolvable $ref surfaces here, not as a validation error
            return [f"cannot validate against {name}: {type(e).__name__}: {e}"]
        out = []
        for e in errs:
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            out.append(f"{where}: " + ("not valid under any of the given schemas" if e.context else e.message))
            # anyOf/oneOf: say why each branch failed (the top message alone is vague)
            for sub in e.context or ():
                subwhere = "/".join(str(p) for p in sub.absolute_path) or "(root)"
                out.append(f"  branch {list(sub.schema_path)[:1]}: {subwhere}: {sub.message}")
        return out


def check_refs(store):
    for name, schema in store.schemas.items():
        for ref in iter_refs(schema):
            check(not re.match(r"^[a-z][a-z0-9+.-]*:", ref),
                  f"{name}: $ref {ref!r} is absolute; use a relative ref such as twin.json#/$defs/id")
            try:
                store.resolve(name, ref)
            except Exception as e:  # RefResolutionError / referencing.exceptions.Unresolvable
                fail(f"{name}: $ref {ref!r} ({urljoin(schema['$id'], ref)}) does not resolve: {e}")


def expect(store, name, instance, valid, label):
    global checks
    checks += 1
    errs = store.errors(name, instance)
    if valid and errs:
        fail(f"{label}: should match {name} but does not:\n    " + "\n    ".join(errs))
    elif not valid and not errs:
        fail(f"{label}: {name} accepts it but should reject it")


# ---- 2. and 3. the README ----

SCHEMA_MARK = re.compile(r"<!--\s*schema:\s*([\w.]+)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")
CODE_SPAN = re.compile(r"`([^`]+)`")


def fenced_blocks(lines):
    """Yield (language, first line number, text, schema mark or None)."""
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i + 1
        mark = SCHEMA_MARK.search(lines[i - 1]) if i > 0 else None
        j = start
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        yield lang, start + 1, "\n".join(lines[start:j]), mark.group(1) if mark else None
        i = j + 1


def json_object(text):
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def classify(doc):
    if "telemetry_received" in doc:
        return ["stats.response.json"]
    if "status" in doc and "error" in doc:
        return ["error.json"]
    front = classify_front(doc)
    if front is not None:
        return front
    if "type" in doc and "ts" in doc:
        return ["event.json"]
    if "items" in doc:
        return ["history.response.json"] if "id" in doc else ["search.response.json"]
    if "metadata" in doc or "versions" in doc or "created" in doc:
        return ["twin.json", "get.response.json"]
    return []


def classify_front(doc):
    """The schemas of a compatibility front's document, [] for one that needs a schema mark, None for a
    document of no front. AWS get/accepted, update/accepted and update/delta look alike: mark them."""
    if "errorCode" in doc:
        return ["azure-twin.error.json"]
    if "$version" in doc:
        return ["azure-twin.desired.json"]
    if isinstance(doc.get("desired"), dict) and "$version" in doc["desired"]:
        return ["azure-twin.get.response.json"]
    if "code" in doc and "message" in doc:
        return ["aws-shadow.error.json"]
    if "previous" in doc or "current" in doc:
        return ["aws-shadow.documents.json"]
    if "state" in doc:
        return [] if "metadata" in doc else ["aws-shadow.update.request.json"]
    if "timestamp" in doc and "version" in doc and "id" not in doc:
        return ["aws-shadow.delete.response.json"]
    return None


def check_readme(store):
    if not check(README.is_file(), f"{README.name} not found in the directory above schemas/"):
        return
    lines = README.read_text(encoding="utf-8").splitlines()
    found = set()
    id_schema = {"$ref": "twin.json#/$defs/id"}

    for lang, lineno, text, mark in fenced_blocks(lines):
        label = f"README.md:{lineno}"
        if lang == "json":
            try:
                doc = json.loads(text)
            except ValueError as e:
                fail(f"{label}: json block is not valid JSON: {e}")
                continue
            if mark == "none":
                continue
            names = [mark] if mark else (classify(doc) if isinstance(doc, dict) else [])
            if not check(names, f"{label}: no schema for this json block "
                                f"(add <!-- schema: FILE --> or <!-- schema: none --> before it)"):
                continue
            for name in names:
                expect(store, name, doc, True, label)
                found.add(name)
        elif lang in ("sh", "bash", "shell", "console"):
            for k, line in shell_lines(text):
                check_shell_line(store, f"README.md:{lineno + k}", line, id_schema, found)

    check("twin.json" in found, "README.md: the twin document example (```json with metadata) was not found")
    check("stats.response.json" in found, "README.md: the $twin/stats example (```json) was not found")
    check("event.json" in found, "README.md: the $twin/{id}/events example (```json with type and ts) was not found")
    check("search.request.json" in found,
          "README.md: the $twin/search shell example (mosquitto_rr ... -m '<json>') was not found")

    # request table rows: | `$twin/{id}/verb` | payload | answer |
    for n, line in enumerate(lines, 1):
        m = re.match(r"^\|\s*`\$twin/(?:\{id\}/)?(\w+)`\s*\|([^|]*)\|", line)
        if m:
            verb, payload = m.group(1), m.group(2)
            for span in CODE_SPAN.findall(payload):
                doc = json_object(span)
                if doc is None:
                    doc = json_object(span.replace("{..}", "{}").replace("[...]", "[]"))
                if doc is not None and verb != "stats":
                    expect(store, f"{verb}.request.json", doc, True, f"README.md:{n} ({verb} request)")
        # inline error bodies anywhere
        for span in CODE_SPAN.findall(line):
            doc = json_object(span)
            if doc is not None and "status" in doc and "error" in doc:
                expect(store, "error.json", doc, True, f"README.md:{n} (error body)")


def shell_lines(text):
    """(offset of the first line, logical line): lines ending in a backslash are
    joined with the next, as the shell does."""
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        start, line = k, lines[k]
        while line.rstrip().endswith("\\") and k + 1 < len(lines):
            k += 1
            line = line.rstrip()[:-1] + " " + lines[k].strip()
        yield start, line
        k += 1


def check_shell_line(store, label, line, id_schema, found=None):
    line = line.strip()
    if not line or line.startswith("#") or not line.startswith(("mosquitto_rr", "mosquitto_pub")):
        return
    try:
        argv = shlex.split(line, comments=True)
    except ValueError as e:
        fail(f"{label}: cannot split shell line: {e}")
        return
    topic = payload = None
    for a, b in zip(argv, argv[1:]):
        if a == "-t":
            topic = b
        elif a == "-m":
            payload = b
    if topic is None:
        return
    m = re.match(r"^\$twin/(?:([^/]+)/)?(\w+)$", topic)
    d = re.match(r"^devices/([^/]+)/telemetry$", topic)
    aws = re.match(r"^\$aws/things/([^/]+)/shadow(?:/name/([^/]+))?/update$", topic)
    if aws:
        for name in filter(None, aws.groups()):
            checks_id(store, label, name, id_schema)
        if payload is not None:
            check_payload(store, label, payload, "aws-shadow.update.request.json", "AWS shadow update")
    elif m:
        twin_id, verb = m.group(1), m.group(2)
        if twin_id is None:
            if not check(verb in ("search", "stats"), f"{label}: unknown request topic {topic!r}"):
                return
        else:
            checks_id(store, label, twin_id, id_schema)
        if payload is not None:
            check_payload(store, label, payload, f"{verb}.request.json", f"{verb} request", found)
    elif d:
        checks_id(store, label, d.group(1), id_schema)
        if payload is not None:
            check(json_object(payload) is not None, f"{label}: telemetry example is not a JSON object")


def check_payload(store, label, payload, name, what, found=None):
    """The -m payload of a request example: JSON that schema `name` accepts (then added to found)."""
    try:
        doc = json.loads(payload)
    except ValueError as e:
        fail(f"{label}: {what} payload is not JSON: {e}")
        return
    expect(store, name, doc, True, f"{label} ({what})")
    if found is not None:
        found.add(name)


def checks_id(store, label, twin_id, id_schema):
    global checks
    checks += 1
    try:
        errs = list(store.validator({"$id": BASE + "check-id", **id_schema}).iter_errors(twin_id))
    except Exception as e:
        fail(f"{label}: cannot validate id {twin_id!r}: {type(e).__name__}: {e}")
        return
    if errs:
        fail(f"{label}: id {twin_id!r} in the example topic is not a valid twin id: {errs[0].message}")


# ---- 4. built-in accept/reject cases ----

TWIN = {
    "id": "com.example:sensor-01", "version": 3, "created": 0, "updated": 5, "connected": False,
    "attributes": {}, "reported": {"a": {"b": [1, None]}}, "desired": {"a": {"b": [1, None]}, "c": 1},
    "delta": {"c": 1},
    "metadata": {"reported": {"a": {"b": {"ts": 5}}}, "desired": {"a": {"b": {"ts": 5}}, "c": {"ts": 5}}},
    "versions": {"reported": 1, "desired": 2, "attributes": 0},
}


AWS_SHADOW = {
    "state": {"desired": {"fan": 3}, "reported": {"fan": 1, "fw": {"v": [1, 2]}}},
    "metadata": {"desired": {"fan": {"timestamp": 1763884900}},
                 "reported": {"fan": {"timestamp": 1763884800}, "fw": {"v": {"timestamp": 1763884800}}}},
    "version": 4,
}
AWS_GET = {
    "state": {"desired": {"fan": 3}, "reported": {"fan": 1}, "delta": {"fan": 3}},
    "metadata": {"desired": {"fan": {"timestamp": 1763884900}}, "reported": {"fan": {"timestamp": 1763884800}}},
    "version": 4, "timestamp": 1763884901, "clientToken": "t",
}


def variant(doc, **changes):
    out = copy.deepcopy(doc)
    for key, value in changes.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


CASES = [
    # (schema, document, valid, label)
    ("twin.json", TWIN, True, "twin without lastSeen/token"),
    ("twin.json", variant(TWIN, lastSeen=7, token="t"), True, "twin with lastSeen and token"),
    ("twin.json", variant(TWIN, id="a/b"), False, "id with '/'"),
    ("twin.json", variant(TWIN, id="a+b"), False, "id with '+'"),
    ("twin.json", variant(TWIN, id="a#"), False, "id with '#'"),
    ("twin.json", variant(TWIN, id="a\u0000b"), False, "id with NUL"),
    ("twin.json", variant(TWIN, id=""), False, "empty id"),
    ("twin.json", variant(TWIN, id="x" * 257), False, "id of 257 characters"),
    ("twin.json", variant(TWIN, version=0), False, "version 0"),
    ("twin.json", variant(TWIN, created=-1), False, "negative timestamp"),
    ("twin.json", variant(TWIN, updated=1.5), False, "fractional timestamp"),
    ("twin.json", variant(TWIN, versions=...), False, "twin without versions"),
    ("twin.json", variant(TWIN, versions={"reported": 1, "desired": 2}), False, "versions without attributes"),
    ("twin.json", variant(TWIN, metadata={"reported": {}}), False, "metadata without desired"),
    ("twin.json", variant(TWIN, metadata={"reported": {"a": {"ts": -1}}, "desired": {}}), False, "negative metadata ts"),
    ("twin.json", variant(TWIN, metadata={"reported": {"a": 5}, "desired": {}}), False, "metadata leaf not {ts}"),
    ("twin.json", variant(TWIN, metadata={"reported": {"a": {"ts": 1, "x": 2}}, "desired": {}}), False, "metadata leaf with extra key"),
    ("twin.json", variant(TWIN, reported={"a": None}), False, "null member in stored reported"),
    ("twin.json", variant(TWIN, desired=[]), False, "desired not an object"),
    ("twin.json", variant(TWIN, connected="yes"), False, "connected not boolean"),
    ("twin.json", variant(TWIN, token="t" * 257), False, "token of 257 characters"),
    ("twin.json", variant(TWIN, extra=1), False, "unknown twin property"),
    ("get.response.json", TWIN, True, "get: full twin"),
    ("get.response.json", {"id": "d", "version": 1, "desired": {"fanSpeed": 3},
                           "metadata": {"reported": {"t": {"ts": 1}}}, "versions": {"desired": 2}},
     True, "get: field selection with partial sections"),
    ("get.response.json", {"id": "d"}, False, "get: selection without version"),
    ("get.response.json", {"id": "d", "version": 1, "desired/fanSpeed": 3}, False, "get: flat path key"),
    ("get.request.json", {}, True, "get request: empty object"),
    ("get.request.json", {"fields": []}, True, "get request: no fields"),
    ("get.request.json", {"fields": "reported"}, False, "get request: fields not an array"),
    ("get.request.json", {"fields": [1]}, False, "get request: fields not strings"),
    ("get.request.json", {"token": 1}, False, "get request: token not a string"),
    ("get.request.json", {"field": ["reported"]}, False, "get request: unknown field"),
    ("update.request.json", {"desired": {"fanSpeed": None}, "version": 0}, True, "update: null removes, version 0"),
    ("update.request.json", {"attributes": {}}, True, "update: attributes only"),
    ("update.request.json", {}, False, "update: no section"),
    ("update.request.json", {"token": "t"}, False, "update: only a token"),
    ("update.request.json", {"desire": {"fanSpeed": 3}}, False, "update: typo 'desire'"),
    ("update.request.json", {"desired": 3}, False, "update: desired not an object"),
    ("update.request.json", {"desired": None}, False, "update: desired null"),
    ("update.request.json", {"desired": {}, "version": -1}, False, "update: negative version"),
    ("update.request.json", {"desired": {}, "version": "42"}, False, "update: version a string"),
    ("update.request.json", {"desired": {}, "delta": {}}, False, "update: writing delta"),
    ("update.response.json", {"id": "rack-12", "version": 43, "updated": 1763884900000,
                              "desired": {"fanSpeed": 3}, "delta": {"fanSpeed": 3}, "token": "op-1"},
     True, "update answer"),
    ("update.response.json", {"id": "rack-12", "version": 43}, False, "update answer without updated"),
    ("update.response.json", {"id": "rack-12", "version": 43, "updated": 1, "created": 1}, False,
     "update answer with unknown property"),
    ("delete.request.json", {}, True, "delete: empty object"),
    ("delete.request.json", {"version": 42, "token": "t"}, True, "delete: conditional"),
    ("delete.request.json", {"version": 1.5}, False, "delete: fractional version"),
    ("delete.response.json", {"id": "rack-12", "version": 44, "token": "t"}, True, "delete answer"),
    ("delete.response.json", {"id": "rack-12"}, False, "delete answer without version"),
    ("error.json", {"status": 503, "error": "queue full, retry later"}, True, "error without token"),
    ("error.json", {"status": 200, "error": "ok"}, False, "error with status 200"),
    ("error.json", {"status": 600, "error": "x"}, False, "error with status 600"),
    ("error.json", {"status": 404, "error": ""}, False, "error with empty message"),
    ("error.json", {"status": 404, "error": "x", "code": "E"}, False, "error with unknown property"),
    ("desired.message.json", {"id": "rack-12", "version": 43, "delta": {"fanSpeed": 3}}, True, "desired message"),
    ("desired.message.json", {"id": "rack-12", "version": 43}, False, "desired message without delta"),
    ("desired.message.json", {"id": "rack-12", "version": 43, "delta": {}, "desired": {}}, False,
     "desired message with unknown property"),
    # search
    ("search.request.json", {}, True, "search: everything by default"),
    ("search.request.json", {"filter": "and(eq(attributes/site,\"dc1\"),gt(reported/tempTop,30))",
                             "sort": ["-reported/tempTop", "+id", "attributes/row"], "limit": 200,
                             "cursor": "eyJrIjpbXX0", "count": False, "fields": ["reported"], "token": "t"},
     True, "search: every field"),
    ("search.request.json", {"limit": 0}, False, "search: limit 0"),
    ("search.request.json", {"limit": 201}, False, "search: limit 201"),
    ("search.request.json", {"limit": 2.5}, False, "search: fractional limit"),
    ("search.request.json", {"filter": 5}, False, "search: filter not a string"),
    ("search.request.json", {"filter": "x" * 4097}, False, "search: filter over 4096 characters"),
    ("search.request.json", {"count": "yes"}, False, "search: count not a boolean"),
    ("search.request.json", {"sort": "-reported/t"}, False, "search: sort not an array"),
    ("search.request.json", {"sort": ["a", "b", "c", "d", "e"]}, False, "search: 5 sort paths"),
    ("search.request.json", {"sort": [""]}, False, "search: empty sort path"),
    ("search.request.json", {"sort": ["-"]}, False, "search: sort sign without path"),
    ("search.request.json", {"sort": ["/a"]}, False, "search: sort path starting with /"),
    ("search.request.json", {"fields": "reported"}, False, "search: fields not an array"),
    ("search.request.json", {"query": "eq(id,\"a\")"}, False, "search: unknown field"),
    ("search.response.json", {"items": []}, True, "search answer: no match, last page"),
    ("search.response.json", {"items": [TWIN, {"id": "b", "version": 1, "connected": False}],
                              "cursor": "eyJrIjpbXX0", "count": 40, "token": "t"},
     True, "search answer: full twin and selection with connected, cursor, count, token"),
    ("search.response.json", {"items": [{"id": "a", "version": 1, "token": "t"}]}, False,
     "search answer: item with token"),
    ("search.response.json", {"items": [{"id": "a"}]}, False, "search answer: item without version"),
    ("search.response.json", {"items": [], "count": -1}, False, "search answer: negative count"),
    ("search.response.json", {"items": [], "cursor": ""}, False, "search answer: empty cursor"),
    ("search.response.json", {"items": [], "cursor": 5}, False, "search answer: cursor not a string"),
    ("search.response.json", {"cursor": "x"}, False, "search answer: no items"),
    ("search.response.json", {"items": [], "total": 3}, False, "search answer: unknown property"),
    ("search.response.json", {"items": [], "stale": True}, True, "search answer: did not wait for writes"),
    ("search.response.json", {"items": [], "stale": False}, False, "search answer: stale false (absent instead)"),
    # history
    ("history.request.json", {}, True, "history: defaults"),
    ("history.request.json", {"limit": 1000, "since": 0, "fields": ["reported/t"], "token": "t"}, True,
     "history: every field"),
    ("history.request.json", {"limit": 0}, False, "history: limit 0"),
    ("history.request.json", {"limit": 1001}, False, "history: limit 1001"),
    ("history.request.json", {"since": -1}, False, "history: negative since"),
    ("history.request.json", {"since": "2025-01-01"}, False, "history: since not a number"),
    ("history.request.json", {"version": 3}, False, "history: unknown field"),
    ("history.response.json", {"id": "rack-12", "items": []}, True, "history answer: empty"),
    ("history.response.json", {"id": "rack-12", "token": "t", "items": [
        {"version": 2, "ts": 5, "attributes": {}, "reported": {"a": [1, None]}, "desired": {"f": 3}},
        {"version": 1, "ts": 4, "reported": {"a": 1}}]}, True, "history answer: full and selected entries"),
    ("history.response.json", {"items": []}, False, "history answer without id"),
    ("history.response.json", {"id": "rack-12", "items": [{"ts": 5}]}, False, "history entry without version"),
    ("history.response.json", {"id": "rack-12", "items": [{"version": 1}]}, False, "history entry without ts"),
    ("history.response.json", {"id": "rack-12", "items": [{"version": 1, "ts": 1, "reported": {"a": None}}]},
     False, "history entry with a null member"),
    ("history.response.json", {"id": "rack-12", "items": [{"version": 1, "ts": 1, "delta": {}}]}, False,
     "history entry with delta"),
    ("history.response.json", {"id": "rack-12", "items": [{"version": 1, "ts": 1, "id": "rack-12"}]}, False,
     "history entry with id"),
    # events
    ("event.json", {"id": "rack-12", "version": 1, "ts": 5, "type": "created",
                    "reported": {"t": 1, "o": {"a": [1]}}, "attributes": {"site": "dc1"}, "desired": {"f": 3}},
     True, "event: created"),
    ("event.json", {"id": "rack-12", "version": 7, "ts": 5, "type": "updated", "reported": {"o": {"a": None}}},
     True, "event: updated with a removed leaf"),
    ("event.json", {"id": "rack-12", "version": 8, "ts": 5, "type": "deleted"}, True, "event: deleted"),
    ("event.json", {"id": "rack-12", "ts": 5, "type": "error", "error": "telemetry ignored: not a JSON object"},
     True, "event: error"),
    ("event.json", {"id": "rack-12", "ts": 5, "type": "updated", "reported": {"a": 1}}, False,
     "event: updated without version"),
    ("event.json", {"id": "rack-12", "version": 3, "ts": 5, "type": "error", "error": "x"}, False,
     "event: error with version"),
    ("event.json", {"id": "rack-12", "ts": 5, "type": "error"}, False, "event: error without error"),
    ("event.json", {"id": "rack-12", "ts": 5, "type": "error", "error": "x", "reported": {"a": 1}}, False,
     "event: error with a section"),
    ("event.json", {"id": "rack-12", "version": 3, "ts": 5, "type": "updated", "error": "x"}, False,
     "event: updated with error"),
    ("event.json", {"id": "rack-12", "version": 3, "ts": 5, "type": "changed"}, False, "event: unknown type"),
    ("event.json", {"id": "rack-12", "version": 3, "ts": 5, "type": "updated", "reported": {}}, False,
     "event: empty section"),
    ("event.json", {"id": "rack-12", "version": 3, "ts": 5, "type": "updated", "reported": 5}, False,
     "event: section not an object"),
    ("event.json", {"id": "rack-12", "version": 3, "ts": 5, "type": "updated", "delta": {"a": 1}}, False,
     "event: delta"),
    ("event.json", {"id": "a/b", "version": 3, "ts": 5, "type": "updated"}, False, "event: invalid id"),
    ("event.json", {"version": 3, "ts": 5, "type": "updated"}, False, "event: no id"),
    ("event.json", {"id": "rack-12", "version": 3, "type": "updated"}, False, "event: no ts"),
    # AWS shadow front (epoch seconds)
    ("aws-shadow.get.response.json", AWS_GET, True, "aws get/accepted"),
    ("aws-shadow.get.response.json", {"state": {}, "metadata": {}, "version": 1, "timestamp": 1763884900}, True,
     "aws get/accepted: empty sections left out"),
    ("aws-shadow.get.response.json", variant(AWS_GET, timestamp=1763884900123), False,
     "aws get/accepted: timestamp in milliseconds"),
    ("aws-shadow.get.response.json", variant(AWS_GET, state={"desired": {}}), False, "aws get/accepted: empty section"),
    ("aws-shadow.get.response.json", variant(AWS_GET, state={"attributes": {"a": 1}}), False,
     "aws get/accepted: attributes in state"),
    ("aws-shadow.get.response.json", variant(AWS_GET, metadata={"desired": {"fan": {"ts": 1763884900123}}}),
     False, "aws get/accepted: metadata leaf {ts}"),
    ("aws-shadow.get.response.json", variant(AWS_GET, metadata={"desired": {"fan": {"timestamp": 1, "x": 1}}}),
     False, "aws get/accepted: metadata leaf with extra key"),
    ("aws-shadow.get.response.json", variant(AWS_GET, version=...), False, "aws get/accepted without version"),
    ("aws-shadow.get.response.json", variant(AWS_GET, clientToken="t" * 65), False, "aws get/accepted: token of 65"),
    ("aws-shadow.get.response.json", variant(AWS_GET, id="rack-12"), False, "aws get/accepted: twin member"),
    ("aws-shadow.update.request.json", {"state": {"desired": {"fan": None}, "reported": None}, "version": 0,
                                        "clientToken": "t"}, True, "aws update: null removes and clears"),
    ("aws-shadow.update.request.json", {"state": {}, "foo": 1}, True, "aws update: other members ignored"),
    ("aws-shadow.update.request.json", {"clientToken": "t"}, False, "aws update: no state"),
    ("aws-shadow.update.request.json", {"state": 5}, False, "aws update: state not an object"),
    ("aws-shadow.update.request.json", {"state": {"delta": {}}}, False, "aws update: delta in state"),
    ("aws-shadow.update.request.json", {"state": {"desired": 5}}, False, "aws update: desired not an object"),
    ("aws-shadow.update.request.json", {"state": {}, "version": "1"}, False, "aws update: version a string"),
    ("aws-shadow.update.request.json", {"state": {}, "version": -1}, False, "aws update: negative version"),
    ("aws-shadow.update.request.json", {"state": {}, "clientToken": 5}, False, "aws update: token a number"),
    ("aws-shadow.update.response.json", {"state": {"desired": {"fan": None}, "reported": None},
                                         "metadata": {"desired": {"fan": {"timestamp": 1763884900}}},
                                         "version": 4, "timestamp": 1763884900, "clientToken": "t"},
     True, "aws update/accepted"),
    ("aws-shadow.update.response.json", {"state": {}, "metadata": {}, "version": 4}, False,
     "aws update/accepted without timestamp"),
    ("aws-shadow.update.response.json", {"state": {"delta": {}}, "metadata": {}, "version": 4, "timestamp": 1},
     False, "aws update/accepted: delta in state"),
    ("aws-shadow.delta.json", {"state": {"fan": 3}, "metadata": {"fan": {"timestamp": 1763884900}}, "version": 4,
                               "timestamp": 1763884900}, True, "aws delta"),
    ("aws-shadow.delta.json", {"state": {}, "metadata": {}, "version": 4, "timestamp": 1}, False,
     "aws delta: empty"),
    ("aws-shadow.delta.json", {"state": {"fan": 3}, "metadata": {}, "version": 4, "timestamp": 1,
                               "clientToken": "t"}, False, "aws delta with a clientToken"),
    ("aws-shadow.documents.json", {"previous": None, "current": AWS_SHADOW, "timestamp": 1763884900,
                                   "clientToken": "t"}, True, "aws documents: created"),
    ("aws-shadow.documents.json", {"previous": variant(AWS_SHADOW, version=3), "current": AWS_SHADOW,
                                   "timestamp": 1763884900}, True, "aws documents: changed"),
    ("aws-shadow.documents.json", {"current": AWS_SHADOW, "timestamp": 1}, False, "aws documents without previous"),
    ("aws-shadow.documents.json", {"previous": None, "current": variant(AWS_SHADOW, state={"delta": {"a": 1}}),
                                   "timestamp": 1}, False, "aws documents: delta in state"),
    ("aws-shadow.documents.json", {"previous": None, "current": variant(AWS_SHADOW, version=...),
                                   "timestamp": 1}, False, "aws documents: shadow without version"),
    ("aws-shadow.delete.response.json", {"version": 5, "timestamp": 1763884900, "clientToken": "t"}, True,
     "aws delete/accepted"),
    ("aws-shadow.delete.response.json", {"version": 5}, False, "aws delete/accepted without timestamp"),
    ("aws-shadow.delete.response.json", {"version": 5, "timestamp": 1, "state": {}}, False,
     "aws delete/accepted with state"),
    ("aws-shadow.error.json", {"code": 409, "message": "Version conflict", "timestamp": 1763884900,
                               "clientToken": "t"}, True, "aws rejected"),
    ("aws-shadow.error.json", {"code": 503, "message": "x", "timestamp": 1}, False, "aws rejected: code 503"),
    ("aws-shadow.error.json", {"code": 404, "message": "", "timestamp": 1}, False, "aws rejected: empty message"),
    ("aws-shadow.error.json", {"status": 404, "error": "x"}, False, "aws rejected in $twin's form"),
    # Azure IoT Hub front
    ("azure-twin.get.response.json", {"desired": {"fan": 3, "$version": 2},
                                      "reported": {"fw": {"v": [1, 2]}, "$version": 7}}, True, "azure GET"),
    ("azure-twin.get.response.json", {"desired": {"$version": 0}, "reported": {"$version": 0}}, True,
     "azure GET of a new twin"),
    ("azure-twin.get.response.json", {"desired": {"fan": 3}, "reported": {"$version": 0}}, False,
     "azure GET without $version"),
    ("azure-twin.get.response.json", {"desired": {"$version": -1}, "reported": {"$version": 0}}, False,
     "azure GET: negative $version"),
    ("azure-twin.get.response.json", {"desired": {"a": None, "$version": 1}, "reported": {"$version": 0}}, False,
     "azure GET: null member"),
    ("azure-twin.get.response.json", {"desired": {"$version": 1}}, False, "azure GET without reported"),
    ("azure-twin.get.response.json", {"desired": {"$version": 1}, "reported": {"$version": 0}, "tags": {}},
     False, "azure GET with tags"),
    ("azure-twin.desired.json", {"fan": 3, "cfg": {"m": None}, "$version": 3}, True, "azure desired push"),
    ("azure-twin.desired.json", {"$version": 3}, False, "azure desired push without a change"),
    ("azure-twin.desired.json", {"fan": 3}, False, "azure desired push without $version"),
    ("azure-twin.desired.json", {"fan": 3, "$version": 0}, False, "azure desired push at version 0"),
    ("azure-twin.error.json", {"errorCode": 400000, "message": "bad"}, True, "azure error"),
    ("azure-twin.error.json", {"errorCode": 400, "message": "bad"}, False, "azure error: status, not status x 1000"),
    ("azure-twin.error.json", {"errorCode": 400001, "message": "bad"}, False, "azure error: not a multiple of 1000"),
    ("azure-twin.error.json", {"errorCode": 400000}, False, "azure error without message"),
    ("azure-twin.error.json", {"errorCode": 400000, "message": "x", "status": 400}, False,
     "azure error with unknown property"),
]


def check_cases(store):
    for name, doc, valid, label in CASES:
        expect(store, name, doc, valid, f"built-in case '{label}'")
    stats = {k: 0 for k in store.schemas.get("stats.response.json", {}).get("required", [])}
    check(len(stats) == 44, "stats.response.json: expected 43 required figures and the version")
    stats["version"] = "1.2.3"
    expect(store, "stats.response.json", stats, True, "built-in case 'stats all zero'")
    for key in stats:
        expect(store, "stats.response.json", variant(stats, **{key: ...}), False, f"built-in case 'stats without {key}'")
    expect(store, "stats.response.json", variant(stats, twins=-1), False, "built-in case 'stats negative'")
    expect(store, "stats.response.json", variant(stats, uptime=1), False, "built-in case 'stats unknown counter'")
    expect(store, "stats.response.json", variant(stats, version="2"), False, "built-in case 'stats version not x.y.z'")


def main():
    schemas = load_schemas()
    expected = {"twin.json", "get.request.json", "get.response.json", "update.request.json",
                "update.response.json", "delete.request.json", "delete.response.json", "error.json",
                "desired.message.json", "stats.response.json", "search.request.json",
                "search.response.json", "history.request.json", "history.response.json",
                "event.json", "aws-shadow.json", "aws-shadow.get.response.json",
                "aws-shadow.update.request.json", "aws-shadow.update.response.json", "aws-shadow.delta.json",
                "aws-shadow.documents.json", "aws-shadow.delete.response.json", "aws-shadow.error.json",
                "azure-twin.get.response.json", "azure-twin.desired.json", "azure-twin.error.json"}
    for name in sorted(expected - set(schemas)):
        fail(f"{name}: missing or invalid")
    store = Schemas(schemas)
    check_refs(store)
    check_readme(store)
    check_cases(store)
    if failures:
        print(f"check_examples: {len(failures)} failure(s):")
        for f in failures:
            print(f"FAIL {f}")
        return 1
    print(f"check_examples: ok ({len(schemas)} schemas, {checks} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
