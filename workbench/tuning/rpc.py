"""Measurement on remote devices through TVM's own RPC tracker and servers (no home-made protocol).

A tuning run measures remotely with ``runner="rpc://host:port/key"``: MetaSchedule's ``RPCRunner`` asks the
TVM tracker at ``host:port`` for a server registered under ``key``, uploads each built module and times it
there. Start servers on the devices with TVM's own tools (``python -m tvm.exec.rpc_tracker`` and
``python -m tvm.exec.rpc_server --tracker host:port --key KEY``), or, on one machine, with
:class:`LocalRPCCluster`, which binds to 127.0.0.1 unless told otherwise.

TVM's RPC server runs whatever a client sends it: keep servers on loopback or a trusted network.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

from workbench._tvm import import_tvm

DEFAULT_KEY = "workbench"


class RPCError(ValueError):
    """A bad RPC address, or a tracker or server that cannot be reached."""


def parse_rpc_url(url: str) -> tuple[str, int, str]:
    """``rpc://host:port/key`` -> (host, port, key)."""
    parsed = urlparse(url)
    if parsed.scheme != "rpc" or not parsed.hostname or not parsed.port or not parsed.path.strip("/"):
        raise RPCError(f"expected an RPC address like rpc://127.0.0.1:9190/{DEFAULT_KEY}, got {url!r}")
    return parsed.hostname, int(parsed.port), parsed.path.strip("/")


def _rpc_config(url: str, session_timeout: float) -> Any:
    import_tvm()
    from tvm.s_tir.meta_schedule.runner import RPCConfig

    host, port, key = parse_rpc_url(url)
    return RPCConfig(tracker_host=host, tracker_port=port, tracker_key=key,
                     session_timeout_sec=int(max(1, session_timeout)))


def count_servers(url: str) -> int:
    """How many servers the tracker at ``url`` has registered under its key (free or busy)."""
    host, port, _ = parse_rpc_url(url)
    try:
        return int(_rpc_config(url, 10).count_num_servers(allow_missing=True))
    except Exception as err:  # noqa: BLE001 - TVM raises several error types for a refused connection
        raise RPCError(f"no RPC tracker answers at {host}:{port}: {err}") from err


def rpc_runner(url: str, *, evaluator_config: Any, timeout_sec: float = 30.0, max_workers: int | None = None
               ) -> Any:
    """MetaSchedule's ``RPCRunner`` on the servers registered under ``url``'s key; one session per server."""
    import_tvm()
    from functools import partial

    from tvm.s_tir.meta_schedule.runner import RPCRunner

    from workbench._tvm import worker_initializer

    n = max_workers or count_servers(url)
    if n < 1:
        raise RPCError(f"no RPC server is registered under key {parse_rpc_url(url)[2]!r} at {url}")
    return RPCRunner(rpc_config=_rpc_config(url, timeout_sec), evaluator_config=evaluator_config, max_workers=n,
                     initializer=partial(worker_initializer, "llvm"))


class LocalRPCCluster:
    """A TVM RPC tracker and ``servers`` RPC servers on this machine, each in its own process.

    >>> with LocalRPCCluster(servers=2) as cluster:
    ...     TuningRun("matmul_128", runner=cluster.url, ...).run()
    """

    def __init__(self, servers: int = 2, *, key: str = DEFAULT_KEY, host: str = "127.0.0.1", port: int = 9190,
                 port_end: int = 9290, timeout: float = 60.0) -> None:
        if servers < 1:
            raise RPCError("a cluster needs at least one server")
        self.n_servers, self.key, self.host = servers, key, host
        self.port, self.port_end, self.timeout = port, port_end, timeout
        self.tracker: Any = None
        self.servers: list[Any] = []

    @property
    def url(self) -> str:
        if self.tracker is None:
            raise RPCError("the cluster is not started")
        return f"rpc://{self.host}:{self.tracker.port}/{self.key}"

    def start(self) -> LocalRPCCluster:
        import_tvm()
        from tvm.rpc.server import Server
        from tvm.rpc.tracker import Tracker

        self.tracker = Tracker(host=self.host, port=self.port, port_end=self.port_end, silent=True)
        for _ in range(self.n_servers):
            self.servers.append(Server(host=self.host, port=self.port + 10, port_end=self.port_end,
                                       tracker_addr=(self.host, self.tracker.port), key=self.key, silent=True))
        deadline = time.time() + self.timeout
        while count_servers(self.url) < self.n_servers:
            if time.time() > deadline:
                self.close()
                raise RPCError(f"{self.n_servers} RPC servers did not register with the tracker in {self.timeout} s")
            time.sleep(0.2)
        return self

    def close(self) -> None:
        for server in self.servers:
            server.terminate()
        self.servers = []
        if self.tracker is not None:
            self.tracker.terminate()
            self.tracker = None

    def __enter__(self) -> LocalRPCCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
