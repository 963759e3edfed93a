"""The ``memory`` backend for sessionstore: objects kept in the process, per store.

For tests, caches and single-process apps; nothing survives the process. Select
it with the backend name ``memory`` (entry point ``sessionstore.backends``).
"""

from __future__ import annotations

from sessionstore_memory.backend import MemoryBackend

__all__ = ["MemoryBackend"]
