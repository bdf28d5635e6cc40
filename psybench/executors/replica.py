"""One engine replica, run as a Ray actor (psybench.executors.ray_executor wraps this class with
`ray.remote`): it builds a psybench backend on its node and generates the chunks the driver sends it.
It never writes files: the driver alone writes predictions.jsonl and the cache."""
from __future__ import annotations

import os
from collections.abc import Sequence

from psybench.records import GenerationParams, Output, Request


class Replica:
    def __init__(self) -> None:
        self.backend = None

    def placement(self) -> dict:
        """Where Ray put this replica: node, the CPUs this process may use, its GPU ids."""
        import ray

        context = ray.get_runtime_context()
        return {"node_id": context.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
                "cpus": sorted(os.sched_getaffinity(0)), "gpu_ids": [str(g) for g in context.get_accelerator_ids().get("GPU", [])],
                "pid": os.getpid()}

    def start(self, backend: str, model: str, options: dict, env: dict[str, str]) -> dict:
        """Build the backend (options already checked by the driver, plus engine keywords such as
        distributed_executor_backend); `env` is set first, since vLLM reads it on import."""
        os.environ.update(env)
        from psybench.backends import backend_class

        self.backend = backend_class(backend)(model, **options)
        return self.backend.info()

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Output]:
        return self.backend.generate(requests, params)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None
