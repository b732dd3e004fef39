"""Helpers for the scripts that review tests run inside a private network namespace
(network_support.run_in_private_netns): they import this from $ADV_TESTS_DIR."""

import subprocess
import time


def sh(*a, check=True):
    return subprocess.run(list(a), capture_output=True, text=True, check=check)


def spaces():
    """The names of the network namespaces (`ip netns list`)."""
    return [l.split()[0] for l in sh("ip", "netns", "list").stdout.splitlines() if l.strip()]


def wait(pred, t):
    """True once `pred()` is (an exception counts as not yet), else its value after `t` s."""
    end = time.time() + t
    while time.time() < end:
        try:
            if pred():
                return True
        except Exception:
            pass
        time.sleep(0.3)
    return bool(pred())
