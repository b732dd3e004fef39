#!/usr/bin/env python3
"""Start a detached `nimbus up` for tempest and print shell variables for it.

    start_cloud.py DATA_DIR  ->  NIMBUS_AUTH_URL=... NIMBUS_ADMIN_PASSWORD=...
                                 NIMBUS_DEMO_PASSWORD=... NIMBUS_PID=... NIMBUS_LOG=...

The server keeps running after this script exits; the caller stops it
(kill -TERM $NIMBUS_PID).  NIMBUS_BIN overrides the binary.
"""
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nimbus_launcher import Nimbus, NimbusError, random_password  # noqa: E402


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    data = Path(sys.argv[1]).resolve()
    # A second storage policy, "silver", for the object storage tests that look for one
    # (test_account_quotas.test_storage_policy_quota_limit).
    conf = data.parent / "nimbus-tempest.conf"
    conf.write_text("[storage-policy:0]\nname = Policy-0\ndefault = yes\n\n[storage-policy:1]\nname = silver\nreplicas = 2\n")
    # TEMPEST_NIMBUS_PORT: a port chosen beforehand (the container sync realms file names it).
    port = int(os.environ["TEMPEST_NIMBUS_PORT"]) if os.environ.get("TEMPEST_NIMBUS_PORT") else None
    nimbus = Nimbus(data, port=port, admin_password=random_password(), demo_password=random_password(),
                    extra_args=["--config-file", str(conf)])
    try:
        took = nimbus.start(timeout=30, detach=True)
    except NimbusError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"start_cloud: nimbus ready at {nimbus.auth_url} in {took:.2f} s", file=sys.stderr)
    for key, value in (("NIMBUS_AUTH_URL", nimbus.auth_url),
                       ("NIMBUS_ADMIN_PASSWORD", nimbus.admin_password),
                       ("NIMBUS_DEMO_PASSWORD", nimbus.demo_password),
                       ("NIMBUS_PID", nimbus.proc.pid),
                       ("NIMBUS_LOG", nimbus.log_path)):
        print(f"{key}={shlex.quote(str(value))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
