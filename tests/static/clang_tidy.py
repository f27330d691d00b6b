"""clang-tidy over the src/ and plugin/ files of a build, with the repository's .clang-tidy, one process
per core; fails on any diagnostic except the false positives listed in tests/static/clang-tidy.suppress
(for code that cannot carry a `// NOLINT(check): reason` comment of its own).

Usage: clang_tidy.py BUILD_DIR    (a configured build of this tree: it reads compile_commands.json)
"""
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DIAG = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):\d+: (?P<kind>warning|error): .*\[(?P<checks>[^\]]+)\]$")


def load_suppressions(path):
    """Lines `FILE CHECK TEXT`: a CHECK diagnostic on a line of FILE (path from the repository root)
    whose text, stripped, is TEXT. Lines starting with # are the reasons."""
    entries = []
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) != 3:
                sys.exit("%s: bad line: %s" % (path, line))
            entries.append(tuple(parts))
    return entries


def source_line(path, n):
    try:
        with open(path, errors="replace") as f:
            for i, text in enumerate(f, 1):
                if i == n:
                    return text.strip()
    except OSError:
        pass
    return ""


def run(build_dir, path):
    p = subprocess.run(["clang-tidy", "-p", build_dir, "--quiet", path],
                       capture_output=True, text=True)
    return path, p.returncode, p.stdout, p.stderr


def split_blocks(out):
    """clang-tidy's stdout as (diagnostic match or None, its lines including notes)."""
    blocks = []
    for line in out.splitlines():
        m = DIAG.match(line)
        if m or not blocks:
            blocks.append([m, [line]])
        else:
            blocks[-1][1].append(line)
    return blocks


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build_dir = os.path.abspath(sys.argv[1])
    suppressions = load_suppressions(os.path.join(HERE, "clang-tidy.suppress"))
    used = set()
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        built = {os.path.abspath(os.path.join(e["directory"], e["file"])) for e in json.load(f)}
    files = sorted(p for p in built if os.path.relpath(os.path.dirname(p), REPO) in ("src", "plugin"))
    failures, seen = [], set()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for path, rc, out, err in pool.map(lambda f: run(build_dir, f), files):
            blocks = split_blocks(out)
            if rc != 0 and not any(m for m, _ in blocks):  # could not run at all
                failures.append("%s: clang-tidy exited with %d\n%s" % (path, rc, err.strip()))
            for m, lines in blocks:
                if m is None or lines[0] in seen:  # a header's diagnostic comes once per .c file
                    continue
                seen.add(lines[0])
                rel = os.path.relpath(os.path.abspath(m["file"]), REPO)
                text = source_line(m["file"], int(m["line"]))
                checks = m["checks"].split(",")
                hit = [s for s in suppressions
                       if m["kind"] == "warning" and s[0] == rel and s[1] in checks and s[2] == text]
                if hit:
                    used.update(hit)
                    continue
                failures.append("\n".join(lines))
    for s in suppressions:
        if s not in used:  # the analyzer's path search changes with the code around: a note only
            print("note: clang-tidy.suppress: nothing matched `%s`" % " ".join(s))
    print("clang-tidy: %d files, %d suppressed (tests/static/clang-tidy.suppress), %d problems"
          % (len(files), len(used), len(failures)))
    if failures:
        print("\n\n".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
