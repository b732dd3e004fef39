"""Start and stop a `nimbus up` process on loopback.

Shared by tests/conftest.py (the session cloud and the restart/durability
tests) and tests/tempest/start_cloud.py.  Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# Never send loopback traffic through a proxy from the environment.
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var), "127.0.0.1,localhost"]))


class NimbusError(RuntimeError):
    pass


def find_binary() -> Path:
    """NIMBUS_BIN, else the debug build in the repo."""
    path = Path(os.environ.get("NIMBUS_BIN") or REPO / ".build/debug/nimbus")
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise NimbusError(
            f"nimbus binary not found at {path}: build it with `swift build` "
            "(or `make build`), or point NIMBUS_BIN at one"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def random_password() -> str:
    return "pw-" + secrets.token_urlsafe(18)


def is_ready(auth_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(auth_url, timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Nimbus:
    """One `nimbus up` process.  Output goes to DATA_DIR/nimbus.log."""

    def __init__(self, data_dir: Path, port: int | None = None,
                 admin_password: str | None = None, demo_password: str | None = None,
                 extra_args: list[str] | None = None, binary: Path | None = None, env: dict[str, str] | None = None):
        self.binary = binary or find_binary()
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.admin_password = admin_password
        self.demo_password = demo_password
        self.extra_args = list(extra_args or [])
        # Test clouds use the fake network datapath (nothing in the kernel) unless a test asks for
        # the Linux one (tests/test_network_datapath.py), which then removes what it made.
        self.env = {"NIMBUS_NETWORK_DATAPATH": os.environ.get("NIMBUS_NETWORK_DATAPATH", "fake"), **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "nimbus.log"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/identity/v3"

    @property
    def clouds_yaml(self) -> Path:
        return self.data_dir / "clouds.yaml"

    def command(self) -> list[str]:
        cmd = [str(self.binary), "up", "--data-dir", str(self.data_dir),
               "--listen", f"{HOST}:{self.port}"]
        if self.admin_password:
            cmd += ["--admin-password", self.admin_password]
        if self.demo_password:
            cmd += ["--demo-password", self.demo_password]
        return cmd + self.extra_args

    def start(self, timeout: float = 30.0, detach: bool = False) -> float:
        """Start and wait until GET /identity/v3 answers 200.

        Returns the seconds it took.  `detach` puts the server in its own
        session so it outlives this Python process (tempest helper)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"\n==== {' '.join(self.command())}\n".encode())
        log.flush()
        started = time.monotonic()
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=detach, env={**os.environ, **self.env})
        log.close()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NimbusError(f"nimbus exited with {self.proc.returncode} before it was ready\n"
                                  + self.log_tail())
            if is_ready(self.auth_url, timeout=0.5):
                return time.monotonic() - started
            time.sleep(0.02)
        self.kill()
        raise NimbusError(f"nimbus not ready at {self.auth_url} after {timeout:.0f} s\n" + self.log_tail())

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds.  Returns the exit code.  The cloud's
        storage daemon (left serving attached volumes by design) is stopped too: a test cloud
        leaves nothing running."""
        try:
            if not self.proc or self.proc.poll() is not None:
                return self.proc.returncode if self.proc else None
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                return self.kill()
        finally:
            subprocess.run(["pkill", "-f", f"qemu-storage-daemon .*{self.storage_run_dir}/"], capture_output=True)
            # The daemon removes its directory when it quits by itself; killed, it cannot.
            for _ in range(50):
                if subprocess.run(["pgrep", "-f", f"qemu-storage-daemon .*{self.storage_run_dir}/"], capture_output=True).returncode != 0:
                    shutil.rmtree(self.storage_run_dir, ignore_errors=True)
                    break
                time.sleep(0.1)

    @property
    def storage_run_dir(self) -> str:
        """Where the cloud's storage node keeps its NBD sockets (BlockStorageAssembly: the
        SHA-256 of the data dir)."""
        return "/run/nimbus-storage-" + hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]

    def kill(self) -> int | None:
        """SIGKILL (kill -9) and reap."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    def read_password(self, who: str) -> str:
        """The password given on the command line, else the generated one."""
        given = self.admin_password if who == "admin" else self.demo_password
        return given or (self.data_dir / f"{who}-password").read_text().strip()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return f"---- last {lines} lines of {self.log_path} ----\n" + "\n".join(text[-lines:])
