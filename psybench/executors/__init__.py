"""Where a run's engines live: `local` (one backend in this process) or `ray` (replicas as Ray actors,
psybench.executors.ray_executor). Either way the caller gets one object with the backend protocol
(backends/base.py), so the runner, and any later stage that generates (a judge), works unchanged."""
from __future__ import annotations

from dataclasses import dataclass

from psybench.backends.base import Backend
from psybench.constants import EXECUTORS, RAY_BACKENDS
from psybench.errors import ConfigError


@dataclass(frozen=True)
class ExecutorSettings:
    kind: str = "local"  # one of EXECUTORS
    ray_address: str | None = None  # ray: None = the running cluster, else a local one; "local"; HOST:PORT
    replicas: int | None = None  # ray: None = as many as the cluster's GPUs allow (1 without GPUs)

    def check(self, backend: str | None = None) -> None:
        """One-line errors for flags that do not fit together (before anything starts)."""
        if self.kind not in EXECUTORS:
            raise ConfigError(f"--executor {self.kind!r}: choose one of {', '.join(EXECUTORS)}")
        if self.replicas is not None and self.replicas < 1:
            raise ConfigError(f"--replicas {self.replicas}: must be at least 1")
        if self.kind != "ray":
            given = [flag for flag, value in (("--ray-address", self.ray_address), ("--replicas", self.replicas))
                     if value is not None]
            if given:
                raise ConfigError(f"{', '.join(given)}: only with --executor ray")
        elif backend is not None and backend not in RAY_BACKENDS:
            raise ConfigError(f"--executor ray runs the {', '.join(RAY_BACKENDS)} backend, not {backend} (a served "
                              "model scales with more servers behind --base-url)")


def create_engine(settings: ExecutorSettings, backend: str, model=None, **options) -> Backend:
    """The backend `backend` (options as for psybench.backends.create_backend) run by the executor."""
    settings.check(backend)
    if settings.kind == "local":
        from psybench.backends import create_backend

        return create_backend(backend, model, **options)
    from psybench.executors.ray_executor import RayExecutor

    return RayExecutor(backend, model, options, address=settings.ray_address, replicas=settings.replicas)


__all__ = ["EXECUTORS", "ExecutorSettings", "create_engine"]
