"""Pinned npm packages for the tests that run Node.js (the MQTT.js example, Node-RED, the dashboard):
each NAME@VERSION is installed once into TWIN_NPM_DIR/NAME-VERSION (default: build/npm, the same place
dashboard/make-site.sh puts MQTT.js), never into the sources."""
import os
import shutil
import subprocess

from broker import REPO

NPM_DIR = os.environ.get("TWIN_NPM_DIR") or os.path.join(REPO, "build", "npm")


def node_missing():
    """Why the Node.js tests cannot run here, or None."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return "%s not found (apt-get install nodejs npm)" % tool
    return None


def package(name, version):
    """The install prefix of name@version (its module is PREFIX/node_modules/NAME), installing it first
    if needed; a failed install fails the test."""
    prefix = os.path.join(NPM_DIR, "%s-%s" % (name, version))
    if not os.path.isfile(os.path.join(prefix, "node_modules", name, "package.json")):
        os.makedirs(prefix, exist_ok=True)
        r = subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save",
                            "--loglevel=error", "%s@%s" % (name, version)],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, "npm install %s@%s failed:\n%s" % (name, version, r.stderr[-3000:])
    return prefix
