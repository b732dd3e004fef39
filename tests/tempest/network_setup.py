#!/usr/bin/env python3
"""Print shell variables tempest's network tests need from a Nimbus cloud.

    network_setup.py AUTH_URL ADMIN_PASSWORD  ->  NIMBUS_PUBLIC_NETWORK_ID=...
                                                  NIMBUS_NETWORK_EXTENSIONS=alias,alias,...

The external network `public` that `nimbus up` creates, and the extensions the network
service lists (tempest's [network-feature-enabled] api_extensions: exactly what is served).
Standard library only.
"""
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_setup import Cloud  # noqa: E402


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    cloud = Cloud(sys.argv[1], sys.argv[2])
    _, body = cloud.request("GET", "network", "/v2.0/networks?name=public&router:external=True")
    networks = body["networks"]
    if not networks:
        raise SystemExit("network_setup: the external network `public` is missing")
    _, ext = cloud.request("GET", "network", "/v2.0/extensions")
    aliases = ",".join(sorted(e["alias"] for e in ext["extensions"]))
    print(f"NIMBUS_PUBLIC_NETWORK_ID={shlex.quote(networks[0]['id'])}")
    print(f"NIMBUS_NETWORK_EXTENSIONS={shlex.quote(aliases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
