#!/usr/bin/env python3
"""Turn a subunit v2 stream into `STATUS TEST_ID` lines (one per test).

    subunit_results.py results.subunit > results.txt

STATUS is success, fail, skip, xfail or uxsuccess.  TEST_ID has its
`[id-...,smoke]` attribute suffix removed, so ids stay stable when tempest
changes a test's tags.  Class-level failures show up as ids like
`setUpClass (tempest.api.identity....)` with status fail.
"""
import re
import sys

import subunit
import testtools

ATTRS = re.compile(r"\[[^\]]*\]$")


def normalize(test_id: str) -> str:
    return ATTRS.sub("", test_id.strip())


def read_results(path: str) -> dict[str, str]:
    results: dict[str, str] = {}

    def on_test(test: dict) -> None:
        if test["status"] in ("exists", "inprogress", None):
            return
        tid = normalize(test["id"])
        # a test reported twice (retried) counts as passed only if its last run passed
        results[tid] = test["status"]

    with open(path, "rb") as stream:
        case = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
        result = testtools.StreamToDict(on_test)
        result.startTestRun()
        try:
            case.run(result)
        finally:
            result.stopTestRun()
    return results


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for tid, status in sorted(read_results(sys.argv[1]).items()):
        print(status, tid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
