"""Shared helpers for benchmark reports: machine info, the exact command, markdown + JSON output."""

from __future__ import annotations

import json
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "stdev": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def write_report(name: str, *, title: str, body: str, data: dict[str, Any]) -> Path:
    from workbench.hardware import hardware_descriptor

    hw = hardware_descriptor()
    command = "python " + " ".join(shlex.quote(a) for a in [f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "command": command, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "hardware": hw, **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    gpus = "".join(f"; GPU {g['name']} ({g['memory_mib']} MiB, driver {g['driver']})" for g in hw.get("gpus", []))
    md = (f"# {title}\n\nCommand: `{command}` (from the repo root, in `.venv`)\n\n"
          f"Date: {data['date']}. Machine: {hw['cpu_model']} ({hw['llvm_mcpu']}), {hw['logical_cores']} cores, "
          f"{hw['memory_gib']} GiB, TVM {hw['tvm_version']}{gpus}; TVM's CPU runtime on {hw.get('runtime_threads')} "
          f"threads; hardware id `{hw['id']}`.\n\n{body}\n")
    path = RESULTS / f"{name}.md"
    path.write_text(md)
    return path
