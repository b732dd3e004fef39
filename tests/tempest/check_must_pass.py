#!/usr/bin/env python3
"""Check tempest results against the must-pass list.

    check_must_pass.py [--update] [--skipped SKIPPED] MUST_PASS RESULTS...

RESULTS are files of `STATUS TEST_ID` lines (subunit_results.py).  Every id in
MUST_PASS has to be `success` in the results; a missing one counts as failed.
Exit 1 lists those that did not pass.  --update rewrites MUST_PASS to its old
entries plus every test that passed (sorted; the list only grows), and still
exits 1 if an old entry failed.  --skipped names the file of `TEST_ID — reason`
lines for tests Nimbus intentionally does not pass: an id may not be in both.
"""
import argparse
import re
import sys
from collections import Counter
from pathlib import Path

ATTRS = re.compile(r"\[[^\]]*\]$")
REASON_SEP = re.compile(r"\s+(?:—|--)\s+")


def entries(path: Path) -> list[str]:
    """Non-blank, non-comment lines; the first word of each, attribute suffix removed."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(ATTRS.sub("", REASON_SEP.split(line, 1)[0].split()[0]))
    return out


def header(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    head = []
    for line in lines:
        if line.startswith("#") or not line.strip():
            head.append(line)
        else:
            break
    return head


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--skipped", type=Path)
    ap.add_argument("must_pass", type=Path)
    ap.add_argument("results", type=Path, nargs="+")
    args = ap.parse_args()

    results: dict[str, str] = {}
    for path in args.results:
        for line in path.read_text().splitlines():
            if line.strip():
                status, tid = line.split(None, 1)
                results[ATTRS.sub("", tid.strip())] = status

    counts = Counter(results.values())
    print(f"tempest ran {len(results)} tests: " + ", ".join(
        f"{n} {status}" for status, n in sorted(counts.items())))
    if not results:
        print("check_must_pass: no tempest results at all (did tempest run?)", file=sys.stderr)
        return 1

    must = entries(args.must_pass)
    skipped = set(entries(args.skipped)) if args.skipped else set()
    # a skipped entry may name a whole class (or module): it covers the tests under it
    both = sorted(t for t in set(must) if any(t == s or t.startswith(s + ".") for s in skipped))
    if both:
        print("in both the must-pass and the skipped list:\n  " + "\n  ".join(both))

    failed = [t for t in must if results.get(t) != "success"]
    for t in failed:
        print(f"MUST-PASS FAILED: {t} ({results.get(t, 'missing')})")

    if args.update:
        passed = {t for t, s in results.items() if s == "success"}
        new = sorted(set(must) | passed)
        body = "\n".join(header(args.must_pass) + new) + "\n"
        args.must_pass.write_text(body)
        print(f"updated {args.must_pass}: {len(new)} entries ({len(set(new) - set(must))} new)")

    print(f"must-pass: {len(must) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or both else 0


if __name__ == "__main__":
    sys.exit(main())
