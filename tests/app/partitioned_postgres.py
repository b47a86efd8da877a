"""A private PostgreSQL behind a link the test can cut: a network namespace and a veth pair.

A userspace proxy cannot fake a partition: the kernel under it still
acknowledges every segment, so the client's TCP never notices.  Here the server
runs in a network namespace of its own, reached over a veth pair, and
:meth:`PartitionedPostgres.cut` gives the namespace's end of the pair a queue
that holds nothing (``pfifo limit 0``): every packet the server sends — answers,
ACKs, keepalive replies — is dropped on the way out, so from the client's side
nothing arrives any more, as when a network partition drops packets.  (``netem
loss 100%`` would be the classic tool, but kernels without ``sch_netem``, like
many CI VMs', only have the basic queues.)  :meth:`PartitionedPostgres.heal`
removes that queue.

Needs root (namespaces, ``tc``) and the PostgreSQL 15 server binaries; the
server runs as the ``postgres`` user, as PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
AS_POSTGRES = ("setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups")
PORT = 5432  # the namespace and its address are the test's own, so a fixed port cannot collide


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def _free_subnet() -> ipaddress.IPv4Network:
    """A random /30 of 10.0.0.0/8 that overlaps no network of this host's interfaces."""
    listing = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    used = [ipaddress.IPv4Interface(cidr).network for cidr in re.findall(r"inet (\S+)", listing)]
    while True:
        subnet = ipaddress.IPv4Network((10 << 24 | secrets.randbits(24) & ~3, 30))
        if not any(subnet.overlaps(network) for network in used):
            return subnet


class PartitionedPostgres:
    """``with PartitionedPostgres(params) as pg``: a running server at ``pg.url``."""

    def __init__(self, url_query: str = "") -> None:
        suffix = secrets.token_hex(3)
        self.namespace = f"obsyk-part-{suffix}"
        self._host_link = f"obpt{suffix}h"  # interface names: at most 15 characters
        self._server_link = f"obpt{suffix}s"
        host, server = list(_free_subnet().hosts())
        self._host_address, self.address = str(host), str(server)
        self.url = f"postgresql://postgres@{self.address}:{PORT}/postgres?{url_query}"
        self._workdir = Path(tempfile.mkdtemp(prefix="obsyk-partition-"))
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PartitionedPostgres:
        try:
            self._create_network()
            self._start_server()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def cut(self) -> None:
        """Drop every packet the server sends from now on."""
        self._in_namespace(
            "tc", "qdisc", "add", "dev", self._server_link, "root", "pfifo", "limit", "0"
        )

    def heal(self) -> None:
        self._in_namespace("tc", "qdisc", "del", "dev", self._server_link, "root")

    def close(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        # Deleting the namespace deletes its end of the pair and with it the other end.
        subprocess.run(["ip", "link", "del", self._host_link], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)
        shutil.rmtree(self._workdir, ignore_errors=True)

    def _in_namespace(self, *args: str) -> None:
        _run("ip", "netns", "exec", self.namespace, *args)

    def _create_network(self) -> None:
        _run("ip", "netns", "add", self.namespace)
        _run(
            "ip", "link", "add", self._host_link, "type", "veth", "peer", "name", self._server_link
        )
        _run("ip", "link", "set", self._server_link, "netns", self.namespace)
        _run("ip", "addr", "add", f"{self._host_address}/30", "dev", self._host_link)
        _run("ip", "link", "set", self._host_link, "up")
        self._in_namespace("ip", "addr", "add", f"{self.address}/30", "dev", self._server_link)
        self._in_namespace("ip", "link", "set", self._server_link, "up")

    def _start_server(self) -> None:
        shutil.chown(self._workdir, "postgres", "postgres")
        data = self._workdir / "data"
        initdb = (str(POSTGRES_BIN / "initdb"), "--no-sync", "-A", "trust", "-U", "postgres")
        _run(*AS_POSTGRES, *initdb, "-D", str(data))
        with (data / "pg_hba.conf").open("a") as hba:  # initdb trusts local connections only
            hba.write(f"host all postgres {self._host_address}/32 trust\n")
        log = self._workdir / "server.log"
        with log.open("wb") as log_file:  # the server keeps its own copy of the descriptor
            self._process = subprocess.Popen(
                [
                    *("ip", "netns", "exec", self.namespace, *AS_POSTGRES),
                    *(str(POSTGRES_BIN / "postgres"), "-D", str(data), "-p", str(PORT)),
                    *("-c", f"listen_addresses={self.address}", "-c", "unix_socket_directories="),
                    *("-c", "fsync=off", "-c", "logging_collector=off"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self._process.poll() is None, log.read_text()
            ready = [str(POSTGRES_BIN / "pg_isready"), "-q", "-h", self.address, "-p", str(PORT)]
            if subprocess.run(ready, check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL in {self.namespace} did not start in 30 s")
