"""Which replica generates which requests: the batch is cut into chunks, each replica holds at most a
few at a time (a fast one takes more), and a replica that dies hands its unfinished chunks back to the
front of the queue. Pure bookkeeping, no Ray: the executor drives it with Ray's futures."""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Chunk:
    number: int
    indices: tuple[int, ...]  # positions in the batch


def split_chunks(n_requests: int, replicas: int, chunks_per_replica: int, max_chunk: int,
                 chunk_size: int | None = None) -> list[Chunk]:
    """Consecutive chunks (neighbouring turns of a session stay together); `chunk_size` wins, else about
    `chunks_per_replica` chunks per replica, at most `max_chunk` requests each."""
    if n_requests <= 0:
        return []
    size = chunk_size or min(max_chunk, math.ceil(n_requests / (max(1, replicas) * max(1, chunks_per_replica))))
    size = max(1, size)
    return [Chunk(number, tuple(range(start, min(start + size, n_requests))))
            for number, start in enumerate(range(0, n_requests, size))]


@dataclass
class WorkQueue:
    """chunks -> replicas, `depth` chunks in flight per live replica."""
    chunks: list[Chunk]
    replicas: list[int]
    depth: int = 2
    pending: deque[Chunk] = field(init=False)
    in_flight: dict[int, list[Chunk]] = field(init=False)  # replica -> its chunks, oldest first
    dead: list[int] = field(init=False, default_factory=list)
    finished: set[int] = field(init=False, default_factory=set)  # chunk numbers

    def __post_init__(self) -> None:
        self.pending = deque(self.chunks)
        self.in_flight = {replica: [] for replica in self.replicas}

    def assign(self) -> list[tuple[int, Chunk]]:
        """New (replica, chunk) pairs to submit now: each live replica topped up to `depth`, round-robin."""
        pairs = []
        while self.pending:
            open_replicas = [r for r in self.in_flight if len(self.in_flight[r]) < self.depth]
            if not open_replicas:
                break
            for replica in sorted(open_replicas, key=lambda r: len(self.in_flight[r])):
                if not self.pending:
                    break
                chunk = self.pending.popleft()
                self.in_flight[replica].append(chunk)
                pairs.append((replica, chunk))
        return pairs

    def done(self, replica: int, chunk: Chunk) -> None:
        self.in_flight[replica].remove(chunk)
        self.finished.add(chunk.number)

    def replica_died(self, replica: int) -> list[Chunk]:
        """Take the replica out; its unfinished chunks go back to the front of the queue (returned)."""
        lost = self.in_flight.pop(replica, [])
        if replica not in self.dead:
            self.dead.append(replica)
        self.pending.extendleft(reversed(lost))
        return lost

    @property
    def live(self) -> list[int]:
        return list(self.in_flight)

    @property
    def complete(self) -> bool:
        return len(self.finished) == len(self.chunks)
