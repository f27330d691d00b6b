#!/usr/bin/env python3
"""bench/cluster_move_slot.py - how long `twinctl cluster move-slot` takes for one slot holding N twins
(default 100 000), on cluster/local.sh's fleet on this machine (run by hand; prints figures, asserts
nothing about time). The twins (rack readings, 4 attributes, one in ten with a desired fan speed its
device has not reported: a retained desired message to move) are imported into shard1's empty store with
`twinctl import` before the fleet starts; the slot then moves shard1 -> shard2 and back, each move timed
as a whole and per step (the tool's own lines).

    bench/cluster_move_slot.py [--twins N] [--slot S] [--base-port P] [--plugin build-cluster/mosquitto_twin.so]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SLOTS = 1024


def ids_in_slot(slot, n):
    """n twin ids whose slot is slot: crc32 mod 1024, as HAProxy computes it (about 1024 tries each)."""
    pre, out, i = zlib.crc32(b"rack-"), [], 0
    while len(out) < n:
        digits = b"%d" % i
        if zlib.crc32(digits, pre) % SLOTS == slot:
            out.append("rack-" + digits.decode())
        i += 1
    return out


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit("%s failed: %s%s" % (" ".join(args[:3]), r.stdout, r.stderr))
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--twins", type=int, default=100000)
    ap.add_argument("--slot", type=int, default=9, help="a slot of shard1 (0-341)")
    ap.add_argument("--base-port", type=int, default=27100, help="local.sh's: P..P+33 must be free")
    ap.add_argument("--plugin", default=os.environ.get("TWIN_CLUSTER_PLUGIN") or
                    os.path.join(REPO, "build-cluster", "mosquitto_twin.so"))
    a = ap.parse_args()
    twinctl = os.path.join(os.path.dirname(a.plugin), "twinctl")
    if not os.path.exists(a.plugin) or not os.path.exists(twinctl):
        sys.exit("needs a -DTWIN_CLUSTER=ON build: %s and twinctl beside it" % a.plugin)

    d = tempfile.mkdtemp(prefix="twin-move-bench-")
    env = dict(os.environ, TWIN_CLUSTER_DIR=d, TWIN_PLUGIN=a.plugin)
    try:
        t0 = time.monotonic()
        ids = ids_in_slot(a.slot, a.twins)
        now = int(time.time() * 1000)
        src = os.path.join(d, "twins.jsonl")
        with open(src, "w") as f:
            for i, t in enumerate(ids):
                f.write(json.dumps({"id": t, "version": 3, "updated": now, "lastSeen": now,
                                    "attributes": {"site": "dc1", "row": "B", "position": i % 42,
                                                   "model": "rack-th"},
                                    "reported": {"tempTop": 24.1, "tempBottom": 21.3, "humidityTop": 41,
                                                 "humidityBottom": 45},
                                    "desired": {"fanSpeed": 3} if i % 10 == 0 else {}}) + "\n")
        os.makedirs(os.path.join(d, "shard1"))
        run([twinctl, "-d", os.path.join(d, "shard1"), "import", src])
        print("prepared %d twins in slot %d (%.1f s)" % (a.twins, a.slot, time.monotonic() - t0))

        base = a.base_port
        run([os.path.join(REPO, "cluster", "local.sh"), "up", "--base-port", str(base)], env=env,
            timeout=120)
        common = ["--nats", "nats://127.0.0.1:%d" % (base + 11), "--haproxy", os.path.join(d, "haproxy.sock"),
                  "--map", os.path.join(d, "slots.map")]
        for frm, to in (("shard1", "shard2"), ("shard2", "shard1")):
            t = time.monotonic()
            r = run([twinctl, "cluster", "move-slot", str(a.slot), "--from", frm, "--to", to] + common,
                    timeout=600)
            wall = time.monotonic() - t
            print(r.stdout, end="")
            print("move %s -> %s: %d twins in %.2f s (wall, twinctl included)\n" % (frm, to, a.twins, wall))
    finally:
        subprocess.run([os.path.join(REPO, "cluster", "local.sh"), "down"], env=env, capture_output=True,
                       timeout=60)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
