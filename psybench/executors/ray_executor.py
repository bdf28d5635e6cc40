"""`--executor ray`: N engine replicas as Ray actors, behind the one backend protocol.

Each replica is a Ray actor (executors/replica.py) holding one psybench vllm backend, with its GPUs
reserved by a placement group: one bundle per GPU of the replica (tensor x pipeline parallel size), the
first also holding the actor's CPU. A replica of one GPU runs vLLM's single-process engine; a larger one
runs vLLM's Ray executor inside the same placement group, packed on one node when it fits (STRICT_PACK),
spread over nodes otherwise (PACK: pipeline stages across nodes). On a cluster without GPUs a replica is
one CPU, and replicas that share a machine split its cores (VLLM_CPU_OMP_THREADS_BIND).

`generate` cuts the batch into chunks (work_queue.py): each replica holds a couple at a time, so a fast
one takes more; finished chunks come back to the driver as they complete and `on_output` runs in the
driver only, so the runner alone writes predictions.jsonl and the cache (resume and exactly-once hold as
with one engine). A replica that dies (node lost, OOM, killed) hands its unfinished chunks to the others;
`info()` records each death and how many samples were handed on, for the manifest."""
from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from psybench.backends.base import OnOutput
from psybench.constants import (RAY_CHUNKS_PER_REPLICA, RAY_CLOSE_TIMEOUT_S, RAY_IN_FLIGHT_PER_REPLICA, RAY_MAX_CHUNK,
                                RAY_OBJECT_STORE_BYTES, RAY_PLACEMENT_TIMEOUT_S)
from psybench.errors import BackendError, ConfigError, MissingResourceError, PsybenchError
from psybench.executors.work_queue import WorkQueue, split_chunks
from psybench.records import GenerationParams, Output, Request

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# The driver's settings the replicas should share (quiet logs, offline hub, vLLM's CPU KV cache); not
# VLLM_HOST_IP, which names each node's own address.
FORWARDED_ENV = ("VLLM_LOGGING_LEVEL", "VLLM_NO_USAGE_STATS", "DO_NOT_TRACK", "VLLM_CPU_KVCACHE_SPACE",
                 "VLLM_CPU_OMP_THREADS_BIND", "VLLM_ENABLE_V1_MULTIPROCESSING", "TQDM_DISABLE", "PYTHONWARNINGS", "TRANSFORMERS_VERBOSITY",
                 "HF_HUB_DISABLE_PROGRESS_BARS", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TORCH_LOGS",
                 "TORCH_CPP_LOG_LEVEL", "TOKENIZERS_PARALLELISM")


@dataclass(frozen=True)
class ReplicaPlan:
    replicas: int
    bundles: tuple[dict[str, float], ...]  # one replica's placement group
    strategy: str  # STRICT_PACK: the replica on one node; PACK: it may span nodes
    actor_gpus: float  # GPUs the actor itself holds (1: a one-GPU engine; 0: vLLM's Ray workers hold them)
    world_size: int  # GPUs per replica: tensor x pipeline parallel size

    @property
    def spans_nodes(self) -> bool:
        return self.strategy == "PACK"


def plan_replicas(world_size: int, gpus_per_node: Sequence[float], cpus: float, replicas: int | None) -> ReplicaPlan:
    """How many replicas and what each reserves, from the cluster's resources. `replicas` None: as many
    as the GPUs allow (one on a cluster without GPUs)."""
    if replicas is not None and replicas < 1:
        raise ConfigError(f"--replicas {replicas}: must be at least 1")
    total_gpus = sum(gpus_per_node)
    if not total_gpus:
        if world_size > 1:
            raise ConfigError(f"--tensor-parallel-size x --pipeline-parallel-size = {world_size}: the Ray cluster "
                              "has no GPUs (on CPU a replica is one engine on one CPU)")
        n = replicas or 1
        if n > cpus:
            raise ConfigError(f"--replicas {n}: the Ray cluster has {cpus:g} CPUs (one per replica without GPUs)")
        return ReplicaPlan(n, ({"CPU": 1.0},), "STRICT_PACK", 0.0, 1)
    if world_size > total_gpus:
        raise ConfigError(f"--tensor-parallel-size x --pipeline-parallel-size = {world_size} GPUs per replica: "
                          f"the Ray cluster has {total_gpus:g}")
    n = replicas or max(1, int(total_gpus // world_size))
    if n * world_size > total_gpus:
        raise ConfigError(f"--replicas {n} x {world_size} GPU(s) each: the Ray cluster has {total_gpus:g} GPUs")
    if world_size == 1:
        return ReplicaPlan(n, ({"GPU": 1.0, "CPU": 1.0},), "STRICT_PACK", 1.0, 1)
    bundles = ({"GPU": 1.0, "CPU": 1.0},) + tuple({"GPU": 1.0} for _ in range(world_size - 1))
    strategy = "STRICT_PACK" if world_size <= max(gpus_per_node) else "PACK"
    return ReplicaPlan(n, bundles, strategy, 0.0, world_size)


def cpu_binds(places: Sequence[dict]) -> list[str | None]:
    """On a cluster without GPUs, replicas on one machine (same node address: a real host, or the
    simulated nodes of a test) split its cores: each engine's OpenMP threads are bound to its own part
    (VLLM_CPU_OMP_THREADS_BIND), else every engine binds the same cores and they take turns. A replica
    alone keeps vLLM's own binding (None), as do replicas with fewer cores than themselves."""
    by_ip: dict[str, list[int]] = {}
    for number, place in enumerate(places):
        by_ip.setdefault(place["node_ip"], []).append(number)
    binds: list[str | None] = [None] * len(places)
    for members in by_ip.values():
        cores = list(places[members[0]]["cpus"])
        if len(members) < 2 or len(cores) < len(members):
            continue
        size = len(cores) // len(members)
        for k, number in enumerate(members):
            binds[number] = ",".join(str(c) for c in cores[k * size:(k + 1) * size])
    return binds


def _parse_address(address: str) -> tuple[str, int] | None:
    host, _, port = address.rpartition(":")
    return (host.strip("[]"), int(port)) if host and port.isdigit() else None


def _answers(host: str, port: int, timeout_s: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _import_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no telemetry
    try:
        import ray
    except ImportError as err:
        raise MissingResourceError(f"--executor ray needs Ray: pip install 'psybench[ray]' ({err})") from err
    return ray


def connect(address: str | None) -> tuple[Any, bool, str]:
    """(ray, whether psybench started this connection, the address). `address`: None = the running
    cluster ($RAY_ADDRESS or the one `ray start` recorded on this machine) else a local one started here;
    "auto" = the running cluster or an error; "local" = always a new local one; else HOST:PORT."""
    ray = _import_ray()
    if ray.is_initialized():  # the caller's own Ray session: use it, leave it up
        return ray, False, "(already connected)"
    target = address or os.environ.get("RAY_ADDRESS") or None
    if target in (None, "auto"):
        from ray._private.utils import read_ray_address  # the address `ray start` wrote on this machine

        recorded = read_ray_address()
        parsed = _parse_address(recorded) if recorded else None
        if parsed and _answers(*parsed):
            target = recorded
        elif target == "auto":
            raise ConfigError("--ray-address auto: no running Ray cluster found on this machine "
                              "(start one with `ray start --head`, or leave --ray-address out to start a local one)")
        else:
            target = "local"
    parsed = _parse_address(target) if target != "local" and "://" not in target else None
    if parsed and not _answers(*parsed):
        raise ConfigError(f"--ray-address {target}: no Ray cluster answers there (start one with `ray start --head "
                          f"--port {parsed[1]}`, or leave --ray-address out to start a local one)")
    if target == "local" or (parsed and parsed[0] in LOOPBACK_HOSTS):
        # Ray replaces a loopback address by the machine's own before connecting (ray issue #59110), which
        # fails for a cluster bound to 127.0.0.1; this switch keeps loopback as loopback (process-wide: what
        # this process does with Ray next is loopback too).
        import ray._private.ray_constants as ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    import logging

    if target == "local":
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, object_store_memory=RAY_OBJECT_STORE_BYTES,
                 logging_level=logging.WARNING)
    else:
        ray.init(address=target, logging_level=logging.WARNING)
    return ray, True, target


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


class RayExecutor:
    """The Backend protocol over N replicas (see the module's docstring)."""

    def __init__(self, backend: str, model: str | None, options: dict, *, address: str | None = None,
                 replicas: int | None = None, chunk_size: int | None = None) -> None:
        from psybench.backends import backend_class, check_options

        from psybench.executors import ExecutorSettings

        ExecutorSettings("ray", address, replicas).check(backend)
        cls = backend_class(backend)
        self.name = backend
        self.prompt_determined = bool(cls.prompt_determined)
        self.options = check_options(backend, options)
        from psybench.assets.chat_models import resolve_chat_model

        self.model = str(resolve_chat_model(model))
        self.chunk_size = chunk_size
        tp = int(self.options.get("tensor_parallel_size") or 1)
        pp = int(self.options.get("pipeline_parallel_size") or 1)
        self._fingerprint: str | None = None
        self._actors: list[Any] = []
        self._groups: list[Any] = []
        self._live: list[int] = []
        self.places: list[dict] = []
        self.failures: list[dict] = []
        self.samples_done: dict[int, int] = {}
        self._infos: list[dict] = []
        self._ray, self._owns_ray, self.address = connect(address)
        self._ray_version = self._ray.__version__
        try:
            self._start(tp * pp, replicas)
        except BaseException:
            self.close()
            raise

    # -- start-up -------------------------------------------------------------------------------

    def _start(self, world_size: int, replicas: int | None) -> None:
        ray = self._ray
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        from psybench.executors.replica import Replica

        gpus_per_node = [n["Resources"].get("GPU", 0.0) for n in ray.nodes() if n.get("Alive")]
        cpus = ray.cluster_resources().get("CPU", 0.0)
        self.plan = plan_replicas(world_size, gpus_per_node, cpus, replicas)
        token = uuid.uuid4().hex[:8]
        self._groups = [placement_group(list(self.plan.bundles), strategy=self.plan.strategy,
                                        name=f"psybench-{token}-{k}") for k in range(self.plan.replicas)]
        ready, _ = ray.wait([g.ready() for g in self._groups], num_returns=len(self._groups),
                            timeout=RAY_PLACEMENT_TIMEOUT_S)
        if len(ready) < len(self._groups):
            raise BackendError(f"Ray could not reserve {self.plan.replicas} replica(s) of {list(self.plan.bundles)} "
                               f"within {RAY_PLACEMENT_TIMEOUT_S}s (free now: {ray.available_resources()}); "
                               "lower --replicas or free the cluster")
        actor_class = ray.remote(Replica)
        engine_options = dict(self.options)
        if world_size > 1:  # vLLM's workers as Ray actors in this replica's placement group, on one node or several
            engine_options["distributed_executor_backend"] = "ray"
        for k, group in enumerate(self._groups):
            strategy = PlacementGroupSchedulingStrategy(placement_group=group, placement_group_bundle_index=0,
                                                        placement_group_capture_child_tasks=world_size > 1)
            self._actors.append(actor_class.options(name=f"psybench-{token}-replica-{k}", num_cpus=1,
                                                    num_gpus=self.plan.actor_gpus, max_restarts=0,
                                                    scheduling_strategy=strategy).remote())
        self.places = self._call_all("placement")
        shared = {key: os.environ[key] for key in FORWARDED_ENV if key in os.environ}
        binds: list[str | None] = [None] * len(self.places)
        if not any(gpus_per_node) and "VLLM_CPU_OMP_THREADS_BIND" not in shared:
            binds = cpu_binds(self.places)
        envs = [dict(shared, **({"VLLM_CPU_OMP_THREADS_BIND": bind} if bind else {})) for bind in binds]
        for place, bind in zip(self.places, binds):
            place["omp_bind"] = bind
        self._infos = self._call_all("start", lambda k: (self.name, self.model, engine_options, envs[k]))
        self._live = list(range(len(self._actors)))
        self.samples_done = {k: 0 for k in self._live}

    def _call_all(self, method: str, args=lambda k: ()) -> list:
        """Call `method` on every replica at once; a failure on any -> the error, naming the replica."""
        refs = [getattr(actor, method).remote(*args(k)) for k, actor in enumerate(self._actors)]
        results = []
        for k, ref in enumerate(refs):
            try:
                results.append(self._ray.get(ref))
            except Exception as err:  # Ray wraps the replica's error; say which replica
                raise self._replica_error(k, err) from err
        return results

    def _replica_error(self, k: int, err: BaseException) -> PsybenchError:
        cause = getattr(err, "cause", None)
        if isinstance(cause, PsybenchError):
            return cause
        where = self.places[k]["node_ip"] if k < len(self.places) else "?"
        return BackendError(f"ray replica {k} (node {where}): {_first_line(cause or err)}")

    # -- the Backend protocol --------------------------------------------------------------------

    def fingerprint(self) -> str:
        """The model's, as with one engine: Ray and non-Ray runs share the cache and resume."""
        if self._fingerprint is None:
            from psybench.backends import offline_fingerprint

            self._fingerprint = offline_fingerprint(self.name, self.model, **self.options)
        return self._fingerprint

    def info(self) -> dict:
        first = dict(self._infos[0]) if self._infos else {"backend": self.name, "model": self.model}
        placement = [dict(place, replica=k, bundles=list(self.plan.bundles)) for k, place in enumerate(self.places)]
        return {**first, "executor": "ray", "ray": {
            "version": self._ray_version, "address": self.address, "started_here": self._owns_ray,
            "replicas": len(self._actors), "live_replicas": len(self._live), "plan": asdict(self.plan),
            "placement": placement, "samples_per_replica": dict(self.samples_done),
            "actor_deaths": len(self.failures), "requeued_samples": sum(f["requeued_samples"] for f in self.failures),
            "failures": list(self.failures)}}

    def generate(self, requests: Sequence[Request], params: GenerationParams,
                 on_output: OnOutput | None = None) -> list[Output]:
        ray = self._ray
        from ray.exceptions import NodeDiedError, ObjectLostError, OutOfMemoryError, RayActorError, WorkerCrashedError

        lost_errors = (RayActorError, WorkerCrashedError, NodeDiedError, OutOfMemoryError, ObjectLostError)
        requests = list(requests)
        if not self._live:
            raise BackendError("ray: no replica is alive (see the manifest's backend_info.ray.failures); "
                               "rerun the same command to continue")
        chunks = split_chunks(len(requests), len(self._live), RAY_CHUNKS_PER_REPLICA, RAY_MAX_CHUNK, self.chunk_size)
        queue = WorkQueue(chunks, list(self._live), depth=RAY_IN_FLIGHT_PER_REPLICA)
        results: list[Output | None] = [None] * len(requests)
        running: dict[Any, tuple[int, Any]] = {}  # ObjectRef -> (replica, chunk)

        def submit() -> None:
            for replica, chunk in queue.assign():
                ref = self._actors[replica].generate.remote([requests[i] for i in chunk.indices], params)
                running[ref] = (replica, chunk)

        submit()
        try:
            while not queue.complete:
                if not running:
                    last = self.failures[-1]["error"] if self.failures else "?"
                    raise BackendError(f"ray: every replica died ({len(self.failures)}; last: {last}); what was "
                                       "generated is saved: rerun the same command to continue")
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    replica, chunk = running.pop(ref)
                    try:
                        outputs = ray.get(ref)
                    except lost_errors as err:
                        self._replica_lost(replica, err, queue, running)
                        continue
                    except Exception as err:  # the backend's own error inside the replica
                        raise self._replica_error(replica, err) from err
                    queue.done(replica, chunk)
                    position = {requests[i].id: i for i in chunk.indices}
                    for out in outputs:
                        results[position[out.id]] = out
                        self.samples_done[replica] += 1
                        if on_output:
                            on_output(out)
                submit()
        finally:
            self._live = queue.live
        return [r for r in results if r is not None]

    def _replica_lost(self, replica: int, err: BaseException, queue: WorkQueue, running: dict) -> None:
        if replica not in queue.live:  # a second chunk of a replica already counted dead
            return
        lost = queue.replica_died(replica)
        for ref in [ref for ref, (r, _) in running.items() if r == replica]:
            running.pop(ref)
        self.failures.append({"replica": replica, "node": self.places[replica]["node_ip"],
                              "error": _first_line(err), "requeued_samples": sum(len(c.indices) for c in lost)})

    def close(self) -> None:
        ray = getattr(self, "_ray", None)
        if ray is None:
            return
        try:
            live = [self._actors[k] for k in self._live]
            if live:  # the engines shut down in order (GPU memory, vLLM's own workers), then the actors go
                ray.wait([a.close.remote() for a in live], num_returns=len(live), timeout=RAY_CLOSE_TIMEOUT_S)
            for actor in self._actors:
                ray.kill(actor, no_restart=True)
            from ray.util.placement_group import remove_placement_group

            for group in self._groups:
                remove_placement_group(group)
        finally:
            self._actors, self._groups, self._live = [], [], []
            if self._owns_ray:
                ray.shutdown()
            self._ray = None
