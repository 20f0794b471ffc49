"""Keep freed memory in the process instead of handing it back to the OS after every decode.

Why: a 30 s decode allocates and frees about 200 MB of spectra and audio in blocks of 1-12 MB.
On Linux, glibc's malloc returns the top of its heap to the OS whenever more than twice its
(adaptive) mmap threshold lies free there, so the next decode gets fresh pages, and the kernel
zeroes each one on its first write. On this project's 2-core CPU that cost 15,000-25,000 page
faults and 25-50 ms of system time per decode; with the settings below there were none, and a
30 s decode took 0.274-0.280 s in the median instead of 0.287-0.296 s (the refinement loop
alone 90-93 ms instead of 111-116 ms). Setting both thresholds keeps those blocks in the heap
for the next decode. Only the allocator's bookkeeping changes, never the arithmetic: the audio
is identical to the byte.

Blocks over `MMAP_THRESHOLD` (a long song's spectra) are still mapped and returned at once. At
most `TRIM_THRESHOLD` of free heap is kept, less than the worker's own working set. Other
platforms' allocators and other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import platform
import sys

#: glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks from this size up are mapped on their own (glibc allows at most 32 MiB on 64-bit).
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the top of the heap is only returned to the OS above this much.
TRIM_THRESHOLD = 256 * 2**20


def keep_freed_memory() -> bool:
    """Set glibc's malloc to reuse freed blocks of up to `MMAP_THRESHOLD` bytes and to keep up to
    `TRIM_THRESHOLD` free. True when both settings took; False (and nothing changed) on
    other platforms or C libraries. Safe to call more than once."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:  # the process's own symbols: glibc is already loaded, nothing to search for
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # The mmap threshold first: setting either one turns glibc's adaptive thresholds off.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
