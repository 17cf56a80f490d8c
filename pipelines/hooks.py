"""Run hooks of the nightly job."""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
from functools import cache
from pathlib import Path

import dagster as dg

# The nightly job runs every step in one process; after each step (and after the freed memory is
# handed back) this line says how much memory the process holds and the most it has held so far.
# A step that raised the peak is the one to look at (`make bench` reads these lines back to
# attribute the peak memory of a night).
STEP_MEMORY_MESSAGE = "memory after step: rss_bytes={rss} peak_rss_bytes={peak}"


def current_rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where it cannot be read)."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
        return int(fields[1]) * resource.getpagesize()
    except (OSError, IndexError, ValueError):
        return 0


def peak_rss_bytes() -> int:
    """The most this process has held so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def release_free_memory() -> None:
    """Hand the heap pages freed by the step back to the OS (glibc `malloc_trim`; nothing
    elsewhere). Python and its libraries free millions of small objects after a big step, but
    glibc keeps the pages, so one step's high-water mark would become the floor of every later
    step of the night."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is not None:
        trim(0)


@dg.success_hook(name="step_memory")
def step_memory(context: dg.HookContext) -> None:
    release_free_memory()
    context.log.info(STEP_MEMORY_MESSAGE.format(rss=current_rss_bytes(), peak=peak_rss_bytes()))
