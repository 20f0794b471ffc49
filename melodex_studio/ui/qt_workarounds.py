"""Guards against known bugs of the Qt binding, applied once when the UI package is imported.

PySide6 6.12.0 on CPython 3.11 returns `None` (from every void method: setText, update,
resize, ...) and `True` (from `SignalInstance.emit`) without taking a reference, as if they
were immortal objects (they are, from CPython 3.12 on). Each call lowers their reference count
by one, and a studio that redraws and emits at screen rate soon dies with "none_dealloc" or
"bool_dealloc". 6.11.x is not affected; the real fix is not to install 6.12.0 on 3.11. Until
then we detect the leak and make the three singletons immortal the way CPython 3.12 does:
give them more references than any session can drop. This only ever *adds* references to
objects that live as long as the interpreter, so it cannot free anything early.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

#: References added to each singleton when the leak is present.
_RESERVE = 1 << 40
_PROBE_CALLS = 16


def binding_leaks_singletons() -> bool:
    """Whether calls into the binding drop references to None or True (PySide6 6.12.0)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        sig_probe = Signal()

    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")
        probe.sig_probe.emit()
    # A dropped reference per call shows as a count at least _PROBE_CALLS lower; other
    # threads only move the counts by a few, never by that much in this direction.
    return (sys.getrefcount(None) <= none_before - _PROBE_CALLS
            or sys.getrefcount(True) <= true_before - _PROBE_CALLS)


def guard_singleton_refcounts() -> bool:
    """Apply the guard if the installed binding needs it; returns whether it was applied."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False  # None, True and False are immortal from CPython 3.12 on
    if not binding_leaks_singletons():
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _RESERVE
    import PySide6

    log.warning("PySide6 %s drops references to None/True on Python %d.%d; guarded. "
                "Install PySide6 6.11 (or a fixed 6.12.x) instead.",
                PySide6.__version__, *sys.version_info[:2])
    return True
