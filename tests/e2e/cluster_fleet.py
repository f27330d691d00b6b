"""A fleet started by cluster/local.sh for the cluster tests that kill and restart its parts: up with
extra shard configuration, kill -9 one process, `local.sh restart` it, down (which must leave no pid
file). The pure helpers (free ports, slot owner, what is missing) are test_cluster_routing's."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from test_cluster_routing import LOCAL_SH, cluster_plugin, free_base, missing, shard_of  # noqa: F401


class Fleet:
    def __init__(self, conf_lines=()):
        why = missing()
        if why:
            pytest.skip(why)
        self.base = free_base()
        self.dir = tempfile.mkdtemp(prefix="twin-cluster-")
        self.env = dict(os.environ, TWIN_CLUSTER_DIR=self.dir, TWIN_PLUGIN=cluster_plugin())
        self.shard = {i: self.base + i for i in (1, 2, 3)}
        conf = os.path.join(self.dir, "extra.conf")
        with open(conf, "w") as f:
            f.write("".join(line + "\n" for line in conf_lines))
        self._sh("up", "--base-port", str(self.base), "--conf", conf, timeout=90)

    def _sh(self, *args, timeout=60):
        r = subprocess.run([LOCAL_SH] + list(args), env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        assert r.returncode == 0, "local.sh %s failed: %s %s" % (" ".join(args), r.stdout, r.stderr)
        return r.stdout

    def kill9(self, name):
        with open(os.path.join(self.dir, name + ".pid")) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):  # reaped by nobody here: gone once /proc says it is a zombie or absent
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().split()[2] == "Z":
                        return
            except FileNotFoundError:
                return
            time.sleep(0.05)

    def restart(self, name):
        return self._sh("restart", name)

    def log(self, name):
        with open(os.path.join(self.dir, name + ".log"), errors="replace") as f:
            return f.read()

    def down(self):
        try:
            self._sh("down")
            assert not [f for f in os.listdir(self.dir) if f.endswith(".pid")], "down left pid files"
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
