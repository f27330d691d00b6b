"""A throwaway PKI for the tests that need mutual TLS (the vendor SDKs of the compatibility fronts
speak only TLS): a CA, a server certificate for localhost / 127.0.0.1, and client certificates whose
CN is the identity (thing name, device id), made with the `openssl` command line in a given directory,
plus the mosquitto.conf lines of a listener that requires them."""
import os
import subprocess
from collections import namedtuple

# ca: CA certificate; server_cert / server_key; clients: {CN: (cert path, key path)}
Pki = namedtuple("Pki", "ca server_cert server_key clients")

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
DAYS = "2"


def _openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "openssl %s failed:\n%s" % (" ".join(args), r.stderr[-2000:])


def _issue(d, name, cn, extensions, serial):
    """name.key and name.crt in d: a new EC key and its certificate signed by the CA in d."""
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("\n".join(extensions) + "\n")
    _openssl(["req", "-new"] + EC_KEY + ["-keyout", name + ".key", "-out", name + ".csr",
                                         "-subj", "/CN=" + cn], d)
    _openssl(["x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
              "-set_serial", str(serial), "-days", DAYS, "-sha256", "-extfile", ext,
              "-out", name + ".crt"], d)
    return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")


def make_pki(dirpath, client_names):
    """Creates the CA, the server certificate (CN=localhost, subjectAltName DNS:localhost and
    IP:127.0.0.1) and one client certificate per name (CN=name) in dirpath; every file is readable
    by all (mode 644), as mosquitto may drop root before it reads them. Returns a Pki."""
    d = os.path.abspath(dirpath)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    _openssl(["req", "-x509"] + EC_KEY + ["-keyout", "ca.key", "-out", "ca.crt", "-days", DAYS,
                                          "-sha256", "-subj", "/CN=mosquitto-twin test CA",
                                          "-addext", "basicConstraints=critical,CA:TRUE",
                                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    leaf = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature",
            "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"]
    server = _issue(d, "server", "localhost",
                    leaf + ["extendedKeyUsage=serverAuth",
                            "subjectAltName=DNS:localhost,IP:127.0.0.1"], 1)
    clients = {}
    for i, cn in enumerate(client_names):
        clients[cn] = _issue(d, "client-%d" % i, cn, leaf + ["extendedKeyUsage=clientAuth"], 100 + i)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    return Pki(os.path.join(d, "ca.crt"), server[0], server[1], clients)


def mtls_listener_conf(pki, port):
    """mosquitto.conf lines of a listener on 127.0.0.1:port that requires a client certificate
    signed by the CA and takes its CN as the username."""
    return ["listener %d 127.0.0.1" % port,
            "cafile %s" % pki.ca,
            "certfile %s" % pki.server_cert,
            "keyfile %s" % pki.server_key,
            "require_certificate true",
            "use_identity_as_username true"]
