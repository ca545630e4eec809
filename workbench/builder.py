"""MetaSchedule's ``LocalBuilder`` with its worker pool kept across batches.

Importing this module loads TVM: the builder is a MetaSchedule ``PyBuilder`` (``derived_object`` needs TVM).
Use :func:`workbench.measure.make_builder` rather than this module directly.
"""

from __future__ import annotations

from typing import Any

from workbench._tvm import import_tvm

import_tvm()

from tvm.ir.utils import derived_object  # noqa: E402
from tvm.s_tir.meta_schedule.builder import BuilderResult, PyBuilder  # noqa: E402
from tvm.s_tir.meta_schedule.builder.local_builder import _serialize_params, _worker_func  # noqa: E402
from tvm.support.popen_pool import PopenPoolExecutor, StatusKind  # noqa: E402


@derived_object
class PooledBuilder(PyBuilder):
    """Builds in a persistent pool: each worker imports TVM once, not once per batch.

    Results and messages are those of ``LocalBuilder`` (whose worker function and parameter serializer it
    calls); a timed-out worker is killed and restarted (with its initializer) on its next task.
    """

    def __init__(self, *, max_workers: int, timeout_sec: float, initializer: Any) -> None:
        super().__init__()
        self.timeout_sec = timeout_sec
        self.pool = PopenPoolExecutor(max_workers=max_workers, timeout=timeout_sec, initializer=initializer)

    def build(self, build_inputs: list) -> list:
        results = []
        jobs = [(None, None, b.mod, b.target, _serialize_params(b.params)) for b in build_inputs]
        for res in self.pool.map_with_error_catching(lambda job: _worker_func(*job), jobs):
            if res.status == StatusKind.COMPLETE:
                results.append(BuilderResult(res.value, None))
            elif res.status == StatusKind.TIMEOUT:
                results.append(BuilderResult(None, f"LocalBuilder: Timeout, killed after {self.timeout_sec} seconds"))
            else:
                results.append(BuilderResult(None, "LocalBuilder: An exception occurred\n" + str(res.value)))
        return results

    def close(self) -> None:
        """Stop the worker processes."""
        self.pool.shutdown()
