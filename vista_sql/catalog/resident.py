"""What a process keeps built between statements: the few Keras models it used last.

Spark reuses its Python workers for the whole session and a long session meets many CNNs, layer
sets and plans. Keeping every model and stage ever built grew each worker by gigabytes until the
kernel's OOM killer took the JVM (a test suite's run: eight workers at 1.2–2.8 GB each). A
least-recently-used bound keeps what a statement reuses — its CNN across tasks and stages — and
lets the rest go, handing freed memory back to the system rather than to malloc's free lists.
"""

from __future__ import annotations

import ctypes
import gc
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class Resident(Generic[Value]):
    def __init__(self, capacity: int):
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, Value] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], Value]) -> Value:
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = make()
        self._entries[key] = value
        evicted = False
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
            evicted = True
        if evicted:
            release_memory()
        return value

    def discard(self, keep: Callable[[Hashable], bool]) -> None:
        """Drop every entry whose key `keep` refuses."""
        dropped = [k for k in self._entries if not keep(k)]
        for key in dropped:
            del self._entries[key]
        if dropped:
            release_memory()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries


def release_memory() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the allocator keeps what it keeps
        pass
