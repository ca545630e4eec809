"""Measuring through TVM's RPC tracker and servers: addresses, a loopback cluster, a tuning run over it."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from workbench.hardware import hardware_descriptor
from workbench.logs import load_logs
from workbench.measure import MeasureConfig
from workbench.rpc import (
    LocalRPCCluster,
    RPCError,
    count_servers,
    infrastructure_problem,
    parse_rpc_url,
    remote_hardware,
    remote_target,
)
from workbench.tuning import TuningRun


def test_rpc_addresses_are_parsed_or_refused():
    assert parse_rpc_url("rpc://127.0.0.1:9190/box") == ("127.0.0.1", 9190, "box")
    for bad in ("http://127.0.0.1:9190/box", "rpc://127.0.0.1/box", "rpc://127.0.0.1:9190/"):
        with pytest.raises(RPCError, match="expected an RPC address"):
            parse_rpc_url(bad)


def test_no_tracker_is_a_clear_error():
    with pytest.raises(RPCError, match="no RPC tracker answers at 127.0.0.1:9"):
        count_servers("rpc://127.0.0.1:9/box")  # the discard port: nothing listens
    with pytest.raises(RPCError, match="at least one server"):
        LocalRPCCluster(servers=0)
    with pytest.raises(RPCError, match="not started"):
        _ = LocalRPCCluster().url


@pytest.mark.slow
def test_tuning_through_a_local_rpc_tracker_and_two_servers(tmp_path):
    with LocalRPCCluster(servers=2, descriptor=_board()) as cluster:
        assert cluster.url.startswith("rpc://127.0.0.1:")  # loopback by default
        assert count_servers(cluster.url) == 2
        run = TuningRun("matmul_128", trials=4, trials_per_iter=4, cost_model="xgb", work_dir=tmp_path / "rpc",
                        confirm=0, runner=cluster.url)
        assert run.hardware["cpu_model"] == "A remote board"  # the machine that times, not this one
        run.run(progress=False)
    df = load_logs(tmp_path / "rpc", progress=False)
    assert run.status == "done" and len(df) == 4 and (df["status"] == "ok").sum() >= 3
    assert (df["hardware"].map(lambda h: h["cpu_model"]) == "A remote board").all()


@pytest.mark.slow
def test_a_cluster_dies_with_the_process_that_started_it(tmp_path):
    """kill -9 of a kernel that started a cluster leaves no tracker or server behind (they watch it)."""
    code = ("import sys, time; from workbench.rpc import LocalRPCCluster; c = LocalRPCCluster(servers=2).start(); "
            "print(*c.pids(), flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 3 and all(psutil.pid_exists(p) for p in pids)
    finally:
        proc.kill()  # SIGKILL: no atexit, no finally in the child
        proc.wait()
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=5)
    assert not alive, f"still running 5 s after the kill: {[p.pid for p in alive]}"


@pytest.mark.slow
def test_a_dead_server_ends_the_run_without_spending_budget_and_resume_measures_again(tmp_path):
    work_dir = tmp_path / "rpc"
    settings = {"trials": 12, "trials_per_iter": 4, "cost_model": "xgb", "work_dir": work_dir, "confirm": 0,
                "measure": MeasureConfig(run_timeout=10, min_repeat_ms=5)}
    with LocalRPCCluster(servers=1) as cluster:
        run = TuningRun("matmul_128", runner=cluster.url, **settings).start()
        deadline = time.time() + 300
        while run.measured < 4 and run.running and time.time() < deadline:
            time.sleep(0.1)
        for server in cluster.servers:
            server.terminate()  # the device goes away mid-run
        cluster.servers = []
        start = time.time()
        with pytest.raises(RuntimeError, match="infrastructure failure: no RPC server is registered"):
            run.wait()
        assert time.time() - start < 120 and run.status == "failed"
        counted = run.measured
        df = load_logs(work_dir, progress=False)
        assert len(df) == counted < 12 and (df["status"] != "infra_error").all()  # nothing burnt on it
        assert set(df["hardware"].map(lambda h: h["id"])) == {hardware_descriptor()["id"]}
        cluster.add_servers(1)
        resumed = TuningRun("matmul_128", runner=cluster.url, **settings)
        assert resumed.remaining == 12 - counted
        resumed.run(progress=False)
    df = load_logs(work_dir, progress=False)
    assert resumed.status == "done" and len(df) == 12 and df["trace_key"].is_unique


def _board() -> dict:
    """The descriptor of "another machine" a server reports (this one's ISA, so its code runs here)."""
    return {k: v for k, v in hardware_descriptor().items() if k != "id"} | {"cpu_model": "A remote board"}


@pytest.mark.slow
def test_collect_through_rpc_records_the_machine_that_measured(tmp_path):
    from workbench.cli import main

    with LocalRPCCluster(servers=1, descriptor=_board()) as cluster, LocalRPCCluster(servers=1) as plain:
        assert cluster.url != plain.url  # two at once: no fixed port
        assert remote_hardware(plain.url) == hardware_descriptor()  # a server reports its own machine ...
        remote = remote_hardware(cluster.url)  # ... or the descriptor it was given
        assert remote["cpu_model"] == "A remote board" and remote["id"] != hardware_descriptor()["id"]
        assert remote_target(remote)["mcpu"] == hardware_descriptor()["llvm_mcpu"]
        assert infrastructure_problem(cluster.url) is None
        url = plain.url
        assert main(["collect", "--subgraph", "matmul_128", "--trials", "3", "--batch", "3", "--min-repeat-ms", "2",
                     "--rpc", cluster.url, "--out", str(tmp_path / "wd"), "--quiet"]) == 0
    assert "no RPC tracker answers" in infrastructure_problem(url)  # closed: gone
    df = load_logs(tmp_path / "wd", progress=False)
    assert len(df) == 3 and (df["status"] == "ok").all()
    assert (df["hardware"].map(lambda h: h["id"]) == remote["id"]).all()  # the remote's, not this machine's
    assert df["hardware"].iloc[0]["cpu_model"] == "A remote board"
