#!/usr/bin/python3
"""Runs Mosquitto's own broker tests (the list of test/broker/test.py) twice, without and with the
plugin, and prints both results side by side. Called by run-mosquitto-suite.sh, which prepares the tree.

A test passes when it exits 0 within the timeout (upstream's ptest.py counts only exit code 1 as a
failure; a crash or a timeout is a failure here). A test whose result differs between the two runs is
run again, alone, --repeat times in each mode, so that a difference caused by load or a race of the test
itself (several are timing-sensitive) is told apart from one caused by the plugin: it counts as a
regression when, alone, it passes every time without the plugin and fails at least once with it.
Exit status: 0 without regressions, 1 with, 2 on a usage error."""

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from queue import Queue

MODES = ("without", "with")


def upstream_tests(broker_dir):
    """(ports, script) pairs from the 'tests = [...]' list of test.py, which upstream's ptest runs."""
    with open(os.path.join(broker_dir, "test.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "tests" for t in node.targets):
            return [(int(p), os.path.basename(s)) for p, s in ast.literal_eval(node.value)]
    raise SystemExit("no 'tests = [...]' list in test.py")


class Ports:
    """Hands out distinct ports to the tests running at the same time (as ptest does)."""

    def __init__(self, first, count):
        self.free = Queue()
        for p in range(first, first + count):
            self.free.put(p)

    def take(self, n):
        return [self.free.get() for _ in range(n)]

    def give(self, ports):
        for p in ports:
            self.free.put(p)


def run_one(args, mode, nports, script, ports, tag):
    """Runs one test script in one mode; returns (result, seconds). result: pass, FAIL, TIMEOUT, missing."""
    broker_dir = os.path.join(args.src, "test", "broker")
    if not os.path.exists(os.path.join(broker_dir, script)):
        return "missing", 0.0
    out_dir = os.path.join(args.tmp, tag, mode)
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ)
    env["TWIN_SUITE_TMP"] = os.path.join(out_dir, script.replace(".py", ""))
    if mode == "with":
        env["TWIN_SUITE_PLUGIN"] = args.plugin
    else:
        env.pop("TWIN_SUITE_PLUGIN", None)
    taken = ports.take(nports)
    start = time.monotonic()
    try:
        with open(os.path.join(out_dir, script.replace(".py", ".log")), "wb") as log:
            proc = subprocess.Popen([sys.executable, "./" + script] + [str(p) for p in taken], cwd=broker_dir,
                                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                rc = proc.wait(timeout=args.timeout)
                result = "pass" if rc == 0 else "FAIL"
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)  # the test and the brokers it started
                proc.wait()
                result = "TIMEOUT"
    finally:
        ports.give(taken)
    return result, time.monotonic() - start


def run_mode(args, mode, tests, ports, tag, jobs):
    clean_tree(args)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {script: pool.submit(run_one, args, mode, n, script, ports, tag) for n, script in tests}
        results = {}
        for script, fut in futures.items():
            results[script] = fut.result()
            if args.verbose:
                print(f"  [{mode:7}] {results[script][0]:7} {results[script][1]:6.1f}s {script}", flush=True)
    return results


def clean_tree(args):
    """Removes what tests may leave in test/broker (persistence files, dynsec dirs), as 'make clean' does."""
    broker_dir = os.path.join(args.src, "test", "broker")
    for name in os.listdir(broker_dir):
        path = os.path.join(broker_dir, name)
        if name.endswith((".db", ".vglog")):
            os.remove(path)
        elif name.isdigit() and os.path.isdir(path):
            shutil.rmtree(path)


def broker_dirs(args, tag, mode):
    """{test script: [directories of the brokers it started]}, from the wrapper's directories."""
    found = {}
    base = os.path.join(args.tmp, tag, mode)
    for test in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        test_dir = os.path.join(base, test)
        if os.path.isdir(test_dir):
            found[test + ".py"] = [os.path.join(test_dir, b) for b in sorted(os.listdir(test_dir))]
    return found


def read_log(broker_dir):
    try:
        with open(os.path.join(broker_dir, "broker.log"), encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def plugin_census(args):
    """What the brokers of the 'with' run logged about the plugin: proof that it was loaded, and how it
    decided its ACL fallback. Returns printable lines; per_listener_settings tests as a set."""
    brokers = broker_dirs(args, "run", "with")
    started = ready = 0
    fallback = {}
    per_listener = set()
    for script, dirs in brokers.items():
        for d in dirs:
            started += 1
            log = read_log(d)
            ready += "mosquitto_twin: ready;" in log
            m = re.search(r"mosquitto_twin: only the plugin publishes.*\((acl_fallback=[^)]*)\)", log)
            if m:
                key = re.sub(r"loaded: .*", "loaded", m.group(1))
                fallback[key] = fallback.get(key, 0) + 1
            if os.path.exists(os.path.join(d, "per_listener_settings")):
                per_listener.add(script)
    lines = [f"brokers started with the plugin: {started}; logged 'mosquitto_twin: ready': {ready}"]
    lines += [f"  first ACL check logged {k}: {v}" for k, v in sorted(fallback.items())]
    return lines, per_listener


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="upstream tree (holds test/broker and src/mosquitto)")
    ap.add_argument("--plugin", required=True, help="the plugin to load in the 'with' run")
    ap.add_argument("--tmp", required=True, help="directory for logs and the brokers' directories")
    ap.add_argument("-j", "--jobs", type=int, default=4, help="tests at the same time (default 4)")
    ap.add_argument("--only", default="", help="regular expression: run only the tests it finds")
    ap.add_argument("--timeout", type=float, default=180, help="seconds per test (default 180)")
    ap.add_argument("--first-port", type=int, default=1888, help="first of the ports handed out")
    ap.add_argument("--repeat", type=int, default=5, help="runs alone of each differing test (default 5)")
    ap.add_argument("-v", "--verbose", action="store_true", help="a line per test as it ends")
    args = ap.parse_args()

    tests = [t for t in upstream_tests(os.path.join(args.src, "test", "broker")) if re.search(args.only, t[1])]
    if not tests:
        print("no test matches --only", file=sys.stderr)
        return 2
    ports = Ports(args.first_port, max(3, 3 * args.jobs))

    results = {}
    for mode in MODES:
        start = time.monotonic()
        print(f"== {len(tests)} upstream broker tests {mode} the plugin, {args.jobs} at a time", flush=True)
        results[mode] = run_mode(args, mode, tests, ports, "run", args.jobs)
        print(f"   {time.monotonic() - start:.0f} s", flush=True)

    differing = [(n, s) for n, s in tests if results["without"][s][0] != results["with"][s][0]]
    rerun = {m: {s: [] for _, s in differing} for m in MODES}  # script: [result of each run alone]
    if differing:
        print(f"== {len(differing)} differing test(s) again, alone, {args.repeat} times in each mode", flush=True)
        for i in range(args.repeat):
            for mode in MODES:
                for script, res in run_mode(args, mode, differing, ports, f"rerun{i + 1}", 1).items():
                    rerun[mode][script].append(res)

    census, plt = plugin_census(args)
    print()
    print(f"{'test':48} {'without':>8} {'with':>8}  note")
    counts = {m: {} for m in MODES}
    regressions = []
    for _, script in tests:
        row = {m: results[m][script][0] for m in MODES}
        for m in MODES:
            counts[m][row[m]] = counts[m].get(row[m], 0) + 1
        notes = []
        if script in rerun["with"]:
            passes = {m: sum(r == "pass" for r, _ in rerun[m][script]) for m in MODES}
            notes.append(f"alone: passed {passes['without']}/{args.repeat} without, {passes['with']}/{args.repeat} with")
            if passes["without"] == args.repeat and passes["with"] < args.repeat:
                regressions.append(script)
                notes.append("REGRESSION")
            elif passes["without"] < args.repeat:
                notes.append("fails without the plugin too")
        if script in plt:
            notes.append("per_listener_settings true: plugin on the last listener only")
        print(f"{script:48} {row['without']:>8} {row['with']:>8}  {'; '.join(notes)}")
    print()
    for m in MODES:
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts[m].items()))
        print(f"{m:>7} the plugin: {summary}")
    print(f"differing results: {len(differing)}; regressions (alone: always pass without, not always with):"
          f" {len(regressions)}" + (f" ({', '.join(regressions)})" if regressions else ""))
    for line in census:
        print(line)
    print(f"logs: {args.tmp}/run/<mode>/<test>.log (runs alone: {args.tmp}/rerunN/...)")
    with open(os.path.join(args.tmp, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"run": results, "rerun": rerun}, f, indent=1)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
