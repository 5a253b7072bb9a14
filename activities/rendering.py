"""Where a document's PDF and Word copy are made: in processes of their own beside the worker.

Laying out a PDF is Python that holds the interpreter's lock for a tenth of a second or more per page. Rendered in
the worker's activity threads, it made every case's next action (a workflow task, a local step) wait its turn behind
it; in processes of their own, renders use the host's other cores and the worker stays quick. The processes are
one pool per worker process, shared by its workers, started on the first document and warmed as they start (the
renderer's modules and the system's fonts). A render that kills its process fails its activity, which Temporal
retries on a new pool; a renderer process holds nothing of a case after its render returns, and leaves when its
worker does, however the worker ended.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from temporalio import activity

_POOLS: dict[int, ProcessPoolExecutor] = {}
_LOCK = threading.Lock()


def _start(worker: int) -> None:
    """In each renderer process as it starts: leave with the worker (``worker``: its pid), then warm up."""

    def leave_with_the_worker() -> None:  # a worker killed outright cannot stop its pool: none outlives it
        while os.getppid() == worker:  # a worker that died before this process started: leave at once
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=leave_with_the_worker, name="leave-with-the-worker", daemon=True).start()
    _warm()


def _warm() -> None:
    from activities.documents import warm_renderer

    warm_renderer()


def _pdf(html: str) -> bytes:
    from activities.documents import render_pdf

    return render_pdf(html)


def _docx(html: str, fields: dict) -> bytes:
    from activities.word import html_to_docx

    return html_to_docx(html, **fields)


HEARTBEAT_EVERY_SECONDS = 2.0


def _result_of(render: Future):
    """The render's result. Inside an activity, its attempt says it is alive while it waits (the workflow gives a
    document's activity a heartbeat timeout): a worker that dies mid-render has the document retried by another
    within that timeout, not after the activity's whole minute."""
    if not activity.in_activity():
        return render.result()
    while True:
        try:
            return render.result(timeout=HEARTBEAT_EVERY_SECONDS)
        except TimeoutError:
            activity.heartbeat()


class Renderer:
    """Renders in ``processes`` processes (0: in the calling thread, for a tool that renders one document)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes

    def pdf(self, html: str) -> bytes:
        return self._run(_pdf, html)

    def docx(self, html: str, *, marking: str, title: str, reference: str, version: int) -> bytes:
        return self._run(_docx, html, {"marking": marking, "title": title, "reference": reference,
                                       "version": version})

    def warm(self) -> None:
        """Start the processes now (the worker does at start), so the first document waits for none of them."""
        if self.processes:
            pool = self._pool()
            for future in [pool.submit(_warm) for _ in range(self.processes)]:
                future.result()
        else:
            _warm()

    def _run(self, function, *arguments):
        if not self.processes:
            return function(*arguments)
        pool = self._pool()
        try:
            return _result_of(pool.submit(function, *arguments))
        except BrokenProcessPool:
            with _LOCK:  # a process died (killed, out of memory): the next try starts a new pool
                if _POOLS.get(self.processes) is pool:
                    del _POOLS[self.processes]
            raise

    def _pool(self) -> ProcessPoolExecutor:
        with _LOCK:
            pool = _POOLS.get(self.processes)
            if pool is None:
                # Spawned, not forked: a fork would copy the worker's threads' locks and its engine's connections.
                pool = _POOLS[self.processes] = ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                    initargs=(os.getpid(),))
            return pool
