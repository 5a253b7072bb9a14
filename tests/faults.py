"""Real faults for the fault-injection tests: a TCP proxy in front of PostgreSQL that can refuse connections
(and cut the open ones), like a database host going away and coming back."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio.api.failure.v1 import Failure


class RefusingProxy:
    """Forwards 127.0.0.1:<port> to the target; ``refuse()`` closes the port and every open connection."""

    def __init__(self, target_host: str, target_port: int, port: int) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.server: asyncio.Server | None = None
        self.connections: set[asyncio.StreamWriter] = set()

    async def accept(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def refuse(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.connections):
            writer.transport.abort()
        self.connections.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections.update({writer, upstream_writer})

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        self.connections.difference_update({writer, upstream_writer})


async def as_sent(converter, error: BaseException) -> Failure:
    """The failure as the worker sends it (through its data converter: message and stack encrypted)."""
    failure = Failure()
    await converter.encode_failure(error, failure)
    return failure


def failed_attempts(records, activity_type: str = "apply_case_step") -> list[tuple[int, BaseException]]:
    """(attempt, error) of each failed attempt of ``activity_type`` as the worker reports it (its log). A case's step
    is a local activity: while it is retried its failures stay in the worker (no pending activity on the server
    shows them), so the worker's own report is where a person (an operator) sees them."""
    found = []
    for record in records:
        info = getattr(record, "temporal_activity", None)
        if record.getMessage().startswith("Completing activity as failed") and info and record.exc_info:
            if info.get("activity_type") == activity_type:
                found.append((info["attempt"], record.exc_info[1]))
    return found
