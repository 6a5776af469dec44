"""gunicorn's settings file, read from the working directory: the bookkeeping of Prometheus's
multi-process mode (prometheus_client). Everything else (workers, bind) comes from the command line.

With PROMETHEUS_MULTIPROC_DIR set, every web process writes its metrics there and /metrics adds
them up; the directory is emptied before the first worker starts, and an exited worker's live
gauges are dropped."""

from __future__ import annotations

import os
import shutil
from typing import Any

from prometheus_client import multiprocess


def on_starting(server: Any) -> None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
