"""The executors' logic without Ray or an engine: chunks, the work queue with a replica dying, the
replica plan from a cluster's resources, CPU shares, and the one-line errors of flags that do not fit
(tests/test_executor_ray.py runs the real thing)."""
from __future__ import annotations

import pytest

from psybench.cli import main
from psybench.errors import ConfigError
from psybench.executors import ExecutorSettings
from psybench.executors.ray_executor import cpu_binds, plan_replicas
from psybench.executors.work_queue import Chunk, WorkQueue, split_chunks


def test_chunks_cover_the_batch_once_in_order() -> None:
    chunks = split_chunks(10, replicas=2, chunks_per_replica=2, max_chunk=256)
    assert [c.indices for c in chunks] == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9,)]
    assert [c.indices for c in split_chunks(5, 2, 4, 256, chunk_size=2)] == [(0, 1), (2, 3), (4,)]
    assert [len(c.indices) for c in split_chunks(2000, 1, 4, max_chunk=256)] == [256] * 7 + [208]
    assert split_chunks(0, 2, 4, 256) == []


def test_each_replica_holds_at_most_depth_chunks_and_takes_more_when_fast() -> None:
    queue = WorkQueue(split_chunks(8, 2, 4, 256), [0, 1], depth=2)
    first = queue.assign()
    assert [(r, c.number) for r, c in first] == [(0, 0), (1, 1), (0, 2), (1, 3)]
    assert queue.assign() == []  # both full
    queue.done(0, first[0][1])
    queue.done(0, first[2][1])
    assert [(r, c.number) for r, c in queue.assign()] == [(0, 4), (0, 5)]  # the fast replica takes the next two
    assert not queue.complete


def test_a_dead_replicas_chunks_go_back_first_and_finish_elsewhere() -> None:
    queue = WorkQueue(split_chunks(6, 2, 3, 256), [0, 1], depth=2)  # 6 chunks of one
    pairs = queue.assign()
    lost = queue.replica_died(1)
    assert [c.number for c in lost] == [1, 3]
    assert queue.live == [0] and queue.dead == [1]
    for replica, chunk in pairs:
        if replica == 0:
            queue.done(0, chunk)
    order = []
    while not queue.complete:
        for replica, chunk in queue.assign():
            assert replica == 0
            order.append(chunk.number)
            queue.done(replica, chunk)
    assert order == [1, 3, 4, 5]  # the lost ones first, in their order
    assert queue.finished == set(range(6))
    assert queue.replica_died(1) == []  # counted once


def test_chunk_records_are_values() -> None:
    assert Chunk(0, (1, 2)) == Chunk(0, (1, 2))


def test_replica_plan_from_the_clusters_resources() -> None:
    cpu = plan_replicas(1, [0.0, 0.0], cpus=2.0, replicas=None)
    assert (cpu.replicas, cpu.bundles, cpu.actor_gpus) == (1, ({"CPU": 1.0},), 0.0)
    assert plan_replicas(1, [0.0, 0.0], 2.0, replicas=2).replicas == 2
    one_gpu = plan_replicas(1, [4.0, 4.0], cpus=64, replicas=None)
    assert (one_gpu.replicas, one_gpu.bundles, one_gpu.actor_gpus) == (8, ({"GPU": 1.0, "CPU": 1.0},), 1.0)
    tp2 = plan_replicas(2, [4.0, 4.0], 64, None)
    assert (tp2.replicas, tp2.strategy, tp2.actor_gpus) == (4, "STRICT_PACK", 0.0)
    assert tp2.bundles == ({"GPU": 1.0, "CPU": 1.0}, {"GPU": 1.0})
    spanning = plan_replicas(8, [4.0, 4.0], 64, None)  # e.g. tensor 4 x pipeline 2 over two 4-GPU nodes
    assert (spanning.replicas, spanning.strategy, spanning.spans_nodes, len(spanning.bundles)) == (1, "PACK", True, 8)


@pytest.mark.parametrize("world, gpus, cpus, replicas, message", [
    (1, [0.0], 2.0, 3, "--replicas 3: the Ray cluster has 2 CPUs"),
    (2, [0.0], 8.0, None, "--pipeline-parallel-size = 2: the Ray cluster has no GPUs"),
    (4, [2.0], 8.0, None, "4 GPUs per replica: the Ray cluster has 2"),
    (2, [4.0], 8.0, 3, "--replicas 3 x 2 GPU(s) each: the Ray cluster has 4 GPUs"),
    (1, [4.0], 8.0, 0, "--replicas 0: must be at least 1"),
])
def test_a_plan_the_cluster_cannot_hold_is_one_line(world, gpus, cpus, replicas, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_replicas(world, gpus, cpus, replicas)


def test_replicas_sharing_a_machine_split_its_cores() -> None:
    places = [{"node_ip": "10.0.0.1", "cpus": [0, 1, 2, 3, 4]}, {"node_ip": "10.0.0.1", "cpus": [0, 1, 2, 3, 4]},
              {"node_ip": "10.0.0.2", "cpus": [0, 1, 2, 3]}]
    assert cpu_binds(places) == ["0,1", "2,3", None]  # alone on its machine: vLLM's own binding
    assert cpu_binds([{"node_ip": "h", "cpus": [0]}] * 2) == [None, None]  # fewer cores than replicas


def test_executor_flags_that_do_not_fit_are_one_line(tmp_path, capsys) -> None:
    with pytest.raises(ConfigError, match="--executor 'slurm': choose one of local, ray"):
        ExecutorSettings("slurm").check()
    with pytest.raises(ConfigError, match="--ray-address, --replicas: only with --executor ray"):
        ExecutorSettings("local", "127.0.0.1:6379", 2).check()
    with pytest.raises(ConfigError, match="--executor ray runs the vllm backend, not openai"):
        ExecutorSettings("ray").check("openai")
    out = str(tmp_path / "r")
    assert main(["run", "--replicas", "2", "--dry-run", "--out", out]) == 2
    assert capsys.readouterr().err == "psybench: error: --replicas: only with --executor ray\n"
    assert main(["run", "--executor", "ray", "--backend", "hf", "--dry-run", "--out", out]) == 2
    assert "--executor ray runs the vllm backend, not hf" in capsys.readouterr().err


def test_data_parallel_size_is_refused_with_the_way_to_replicas(tmp_path, capsys) -> None:
    assert main(["run", "--data-parallel-size", "2", "--dry-run", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == ("psybench: error: --data-parallel-size 2: vLLM's in-process data parallelism is known to hang; "
                   "run N engine replicas with --executor ray --replicas N\n")
    from psybench.backends.vllm import VLLMBackend

    with pytest.raises(ConfigError, match="--data-parallel-size 4: .* --executor ray --replicas N"):
        VLLMBackend(str(tmp_path), data_parallel_size=4)  # refused before vLLM is imported or the model looked at
