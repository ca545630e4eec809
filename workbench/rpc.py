"""Measurement on remote devices through TVM's own RPC tracker and servers (no home-made protocol).

A tuning run measures remotely with ``runner="rpc://host:port/key"``: MetaSchedule's ``RPCRunner`` asks the
TVM tracker at ``host:port`` for a server registered under ``key``, uploads each built module and times it
there. Start servers on the devices with ``python -m workbench.rpc --tracker host:port --key KEY`` (TVM's
server, which also reports the device's hardware descriptor, so records say which machine measured them), or
with TVM's own ``python -m tvm.exec.rpc_server`` (then give the run the device's target). On one machine,
:class:`LocalRPCCluster` starts a tracker and servers on 127.0.0.1 and free ports; they exit with the process
that started them, even when it is killed.

TVM's RPC server runs whatever a client sends it: keep servers on loopback or a trusted network.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import socket
import threading
import time
from functools import partial
from typing import Any
from urllib.parse import urlparse

import psutil

from workbench._tvm import import_tvm, worker_initializer

DEFAULT_KEY = "workbench"
HARDWARE_FUNC = "workbench.hardware_descriptor"  # what a workbench RPC server answers with


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
    try:  # TVM's tracker client retries a refused connection for a minute: ask the port once first
        socket.create_connection((host, port), timeout=5).close()
    except OSError as err:
        raise RPCError(f"no RPC tracker answers at {host}:{port}: {err}") from err
    try:
        return int(_rpc_config(url, 10).count_num_servers(allow_missing=True))
    except Exception as err:  # noqa: BLE001 - TVM raises several error types for a refused connection
        raise RPCError(f"no RPC tracker answers at {host}:{port}: {err}") from err


def infrastructure_problem(url: str) -> str | None:
    """Why nothing can be measured at ``url`` now (no tracker, no server under the key); None when it can."""
    host, port, key = parse_rpc_url(url)
    try:
        if count_servers(url) == 0:
            return f"no RPC server is registered under key {key!r} with the tracker at {host}:{port}"
    except RPCError as err:
        return str(err)
    return None


def rpc_runner(url: str, *, evaluator_config: Any, timeout_sec: float = 30.0, max_workers: int | None = None
               ) -> Any:
    """MetaSchedule's ``RPCRunner`` on the servers registered under ``url``'s key; one session per server."""
    import_tvm()
    from tvm.s_tir.meta_schedule.runner import RPCRunner

    n = max_workers or count_servers(url)
    if n < 1:
        raise RPCError(f"no RPC server is registered under key {parse_rpc_url(url)[2]!r} at {url}")
    return RPCRunner(rpc_config=_rpc_config(url, timeout_sec), evaluator_config=evaluator_config, max_workers=n,
                     initializer=partial(worker_initializer, "llvm"))


def remote_hardware(url: str, *, timeout: float = 60.0) -> dict[str, Any] | None:
    """The hardware descriptor of a server under ``url``'s key (None if it is a plain TVM server).

    One server answers: as in TVM's own convention, a key names one kind of device, so register different
    machines under different keys (records of one run carry one descriptor).
    """
    if count_servers(url) == 0:
        raise RPCError(f"no RPC server is registered under key {parse_rpc_url(url)[2]!r} at {url}")
    session = _rpc_config(url, timeout).connect_server()
    try:
        describe = session.get_function(HARDWARE_FUNC)
    except Exception:  # noqa: BLE001 - a plain TVM server does not have the function
        return None
    return json.loads(describe())


def remote_target(desc: dict[str, Any]) -> dict[str, Any]:
    """The LLVM target of the CPU a hardware descriptor describes (its ISA and all its cores)."""
    if not desc.get("llvm_mcpu"):
        raise RPCError(f"the hardware descriptor {desc.get('id')!r} names no llvm_mcpu, so no target can be made "
                       "from it: give the run its target")
    target = {"kind": "llvm", "mcpu": desc["llvm_mcpu"], "num-cores": int(desc.get("logical_cores") or 1)}
    if desc.get("arch") and desc["arch"] != platform.machine():
        target["mtriple"] = f"{desc['arch']}-linux-gnu"  # cross-compiled here, run there
    return target


def watch_parent(parent: int, interval: float = 0.5) -> None:
    """In a helper process: exit as soon as the process that started it is gone (``kill -9`` included)."""
    def loop() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=loop, name="workbench:watch-parent", daemon=True).start()


def serve_init(parent: int | None = None, descriptor: dict[str, Any] | None = None) -> None:
    """Run in an RPC server process before it serves: report this machine's hardware to clients (or
    ``descriptor``, for a device that cannot describe itself), and (for a server of a
    :class:`LocalRPCCluster`) exit with the process that started it."""
    import tvm_ffi

    from workbench.hardware import hardware_descriptor, hardware_id

    if parent is not None:
        watch_parent(parent)
    desc = dict(descriptor) if descriptor is not None else None
    if desc is not None:
        desc["id"] = hardware_id(desc)
    tvm_ffi.register_global_func(HARDWARE_FUNC, lambda: json.dumps(desc or hardware_descriptor()), override=True)


def _start_tracker(parent: int, host: str, port: int, port_end: int) -> tuple[int, str]:
    """Run in the tracker's process: TVM's tracker, exiting with the process that started it."""
    import_tvm()
    from tvm.rpc.tracker import _popen_start_tracker_server

    watch_parent(parent)
    return _popen_start_tracker_server(host, port, port_end, True)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LocalRPCCluster:
    """A TVM RPC tracker and ``servers`` RPC servers on this machine, each in its own process.

    They bind to 127.0.0.1 and free ports unless told otherwise, and exit with this process however it ends
    (they watch it). ``close()`` (or leaving the ``with`` block) stops them at once.

    >>> with LocalRPCCluster(servers=2) as cluster:
    ...     TuningRun("matmul_128", runner=cluster.url, ...).run()
    """

    def __init__(self, servers: int = 2, *, key: str = DEFAULT_KEY, host: str = "127.0.0.1", port: int | None = None,
                 timeout: float = 60.0, descriptor: dict[str, Any] | None = None) -> None:
        if servers < 1:
            raise RPCError("a cluster needs at least one server")
        self.n_servers, self.key, self.host, self.port, self.timeout = servers, key, host, port, timeout
        self.descriptor = descriptor  # what the servers report as their hardware (default: this machine)
        self.tracker: Any = None
        self.servers: list[Any] = []
        self._pids: list[int] = []

    @property
    def url(self) -> str:
        if self.tracker is None:
            raise RPCError("the cluster is not started")
        return f"rpc://{self.host}:{self.tracker.port}/{self.key}"

    def pids(self) -> list[int]:
        """The processes of the tracker and the servers."""
        return list(self._pids)

    def start(self) -> LocalRPCCluster:
        import_tvm()
        from tvm.rpc.tracker import Tracker
        from tvm.support.popen_pool import PopenWorker

        class WatchedTracker(Tracker):
            def __init__(self, host: str, port: int) -> None:  # as Tracker's, with the watch added
                self.proc = PopenWorker()
                self.proc.send(_start_tracker, [os.getpid(), host, port, port + 1])
                self.port, self.stop_key = self.proc.recv()
                self.host = host

        before = {c.pid for c in psutil.Process().children()}
        self.tracker = WatchedTracker(self.host, self.port or free_port(self.host))
        atexit.register(self.close)
        self._pids = [c.pid for c in psutil.Process().children() if c.pid not in before]
        try:
            self.add_servers(self.n_servers)
        except RPCError:
            self.close()
            raise
        return self

    def add_servers(self, n: int = 1) -> None:
        """Start ``n`` more servers under the cluster's key (e.g. after one died) and wait until they register."""
        from tvm.rpc.server import Server

        before = {c.pid for c in psutil.Process().children()}
        want = count_servers(self.url) + n
        for _ in range(n):
            port = free_port(self.host)
            self.servers.append(Server(host=self.host, port=port, port_end=port + 1,
                                       tracker_addr=(self.host, self.tracker.port), key=self.key, silent=True,
                                       server_init_callback=partial(serve_init, os.getpid(), self.descriptor)))
        self._pids += [c.pid for c in psutil.Process().children() if c.pid not in before]
        deadline = time.time() + self.timeout
        while count_servers(self.url) < want:
            if time.time() > deadline:
                raise RPCError(f"{n} RPC servers did not register with the tracker in {self.timeout} s")
            time.sleep(0.2)

    def close(self) -> None:
        for server in self.servers:
            server.terminate()
        self.servers = []
        if self.tracker is not None:
            self.tracker.terminate()
            self.tracker = None
        self._pids = []
        atexit.unregister(self.close)

    def __enter__(self) -> LocalRPCCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m workbench.rpc --tracker HOST:PORT --key KEY``: serve this machine to a tracker."""
    parser = argparse.ArgumentParser(prog="python -m workbench.rpc", description=main.__doc__)
    parser.add_argument("--tracker", required=True, help="the tracker's HOST:PORT")
    parser.add_argument("--key", default=DEFAULT_KEY, help="the key runs ask for (rpc://HOST:PORT/KEY)")
    parser.add_argument("--host", default="0.0.0.0", help="the address to serve on")
    parser.add_argument("--port", type=int, default=9091)
    parser.add_argument("--descriptor", help="a JSON file describing the device, for one that cannot describe itself")
    args = parser.parse_args(argv)
    host, _, port = args.tracker.rpartition(":")
    descriptor = json.loads(open(args.descriptor).read()) if args.descriptor else None
    import_tvm()
    from tvm.rpc.server import Server

    server = Server(host=args.host, port=args.port, port_end=args.port + 100, tracker_addr=(host, int(port)),
                    key=args.key, server_init_callback=partial(serve_init, None, descriptor))
    print(f"serving {args.host}:{server.port} to the tracker at {args.tracker} under key {args.key!r}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.terminate()


if __name__ == "__main__":
    main()
