"""One serialised background executor for file work, with results delivered to the main thread.

Everything that touches the disk (open, save, recovery journal writes, export, waveform peaks)
runs here, one job at a time in submission order (Anki's taskman does the same): a save can
never interleave with a journal write of the same project, and the main thread never blocks
on I/O. Callbacks come back to the main thread explicitly through a queued signal (napari's
`ensure_main_thread`), never by touching widgets from the worker thread.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: Progress callback handed to a task: (fraction 0..1, short text).
ProgressFn = Callable[[float, str], None]


class _MainThreadInvoker(QObject):
    """Lives in the main thread; a queued signal carries callables to it from any thread."""

    sig_call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.sig_call.connect(self._call, Qt.ConnectionType.QueuedConnection)

    def _call(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a failing callback must not take the event loop down
            log.exception("main-thread callback %r failed", fn)


_invoker: _MainThreadInvoker | None = None
_invoker_lock = threading.Lock()


def _main_invoker() -> _MainThreadInvoker:
    global _invoker
    with _invoker_lock:
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("run_on_main needs a running QApplication")
        if _invoker is None or not shiboken6.isValid(_invoker):
            _invoker = _MainThreadInvoker()
            if _invoker.thread() is not app.thread():
                _invoker.moveToThread(app.thread())
        return _invoker


def is_main_thread() -> bool:
    app = QCoreApplication.instance()
    return app is not None and QThread.currentThread() is app.thread()


def run_on_main(fn: Callable[[], None]) -> None:
    """Run `fn` on the main thread: now if we are on it, else queued to its event loop."""
    if is_main_thread():
        fn()
    else:
        _main_invoker().sig_call.emit(fn)


def post_to_main(fn: Callable[[], None]) -> None:
    """Queue `fn` for the main thread's event loop, even when called from the main thread."""
    _main_invoker().sig_call.emit(fn)


def ensure_main_thread(func: Callable[P, None]) -> Callable[P, None]:
    """Decorator: calls from other threads are forwarded to the main thread (results dropped)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        run_on_main(lambda: func(*args, **kwargs))

    return wrapper


class FileTask:
    """A submitted task: its label, its future, and whether it was cancelled."""

    def __init__(self, label: str, future: Future[Any]) -> None:
        self.label = label
        self.future = future

    def cancel(self) -> bool:
        """Cancel if it has not started; a running task finishes (file writes are atomic)."""
        return self.future.cancel()

    def done(self) -> bool:
        return self.future.done()

    def result(self, timeout: float | None = None) -> Any:
        """Block for the result: for tests and shutdown only, never on the UI path."""
        return self.future.result(timeout)


class FileTaskExecutor(QObject):
    """A single background thread for file work. `submit` returns at once; `on_done(result)`
    or `on_error(exception)` run later on the main thread, unless `context` (a QObject such as
    the widget that asked) was deleted meanwhile."""

    sig_busy_changed = Signal(bool)
    sig_task_failed = Signal(str, str)  # label, one-line message (for the status bar)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="melodex-files")
        self._pending = 0
        self._closed = False
        self.last_task_seconds: dict[str, float] = {}

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def submit(
        self,
        label: str,
        fn: Callable[..., R],
        *args: Any,
        on_done: Callable[[R], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        context: QObject | None = None,
        **kwargs: Any,
    ) -> FileTask:
        """Run `fn(*args, **kwargs)` in the file thread. With `on_progress`, `fn` also gets a
        `progress=` keyword: a thread-safe callable (fraction, text), throttled to ~20 Hz."""
        if self._closed:
            # Late work while the studio quits (a timer that fired during close): drop it.
            log.info("file task %r dropped: the executor is shut down", label)
            dropped: Future[Any] = Future()
            dropped.cancel()
            return FileTask(label, dropped)
        if on_progress is not None:
            kwargs["progress"] = self._progress_forwarder(on_progress, context)

        def timed() -> R:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.last_task_seconds[label] = time.perf_counter() - start

        future = self._pool.submit(timed)
        self._set_pending(self._pending + 1)
        future.add_done_callback(
            lambda f: post_to_main(lambda: self._finish(label, f, on_done, on_error, context))
        )
        return FileTask(label, future)

    def _progress_forwarder(
        self, on_progress: Callable[[float, str], None], context: QObject | None
    ) -> ProgressFn:
        last = [0.0]

        def report(fraction: float, text: str = "") -> None:
            now = time.monotonic()
            if fraction < 1.0 and now - last[0] < 0.05:
                return  # the main thread needs no more than ~20 updates a second
            last[0] = now
            post_to_main(lambda: _alive(context) and on_progress(fraction, text))

        return report

    def _finish(
        self,
        label: str,
        future: Future[Any],
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
        context: QObject | None,
    ) -> None:
        self._set_pending(self._pending - 1)
        if not _alive(context) or not shiboken6.isValid(self):
            return
        try:
            result = future.result()
        except CancelledError:
            return
        except Exception as error:
            log.warning("file task %r failed: %s", label, error)
            if on_error is not None:
                on_error(error)
            else:
                self.sig_task_failed.emit(label, _one_line(error))
            return
        if on_done is not None:
            on_done(result)

    def _set_pending(self, value: int) -> None:
        was_busy = self._pending > 0
        self._pending = max(0, value)
        if shiboken6.isValid(self) and was_busy != (self._pending > 0):
            self.sig_busy_changed.emit(self._pending > 0)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Process events until every submitted task has reported back (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        app = QCoreApplication.instance()
        while self._pending > 0 and time.monotonic() < deadline:
            if app is not None:
                app.processEvents()
            time.sleep(0.002)
        return self._pending == 0

    def shutdown(self, wait: bool = True) -> None:
        """Finish queued work (saves must complete) and stop the thread."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=False)


def _alive(context: QObject | None) -> bool:
    return context is None or shiboken6.isValid(context)


def _one_line(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(str(message).split())
