"""Write frames to one WebSocket client, knowing how far behind it is.

An outlet is the last step of a frame's way to a client. Under Daphne the
frame goes straight to the connection's WebSocket protocol: a broadcast frame
is framed once for every socket of the process and handed to each transport
as the same bytes, and the transport's own buffer tells how much the client
has not taken yet. Under any other ASGI server (and Channels' test
communicator) frames go through the ASGI `send` callable, from a queue that
one task drains. Both refuse a frame once the client's backlog passes its
bound, so the caller can close the connection instead of buffering forever.
"""

import asyncio
import functools
import logging
from collections import deque

logger = logging.getLogger(__name__)

# How often a replay checks whether the client has read what it was sent.
DRAIN_POLL_SECONDS = 0.01
# A client closed for falling behind gets this long to read up to the close
# frame before its connection is dropped.
CLOSE_TIMEOUT_SECONDS = 10.0


class Frame:
    """One outgoing text frame, encoded and framed at most once."""

    __slots__ = ("text", "_data", "_prepared")

    def __init__(self, text: str):
        self.text = text
        self._data = None
        self._prepared = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = self.text.encode()
        return self._data

    def prepared(self, factory):
        """Return the frame as WebSocket bytes prepared by an autobahn factory."""
        if self._prepared is None or self._prepared[0] is not factory:
            self._prepared = (factory, factory.prepareMessage(self.data))
        return self._prepared[1]


class DaphneOutlet:
    """Write frames straight to the autobahn protocol Daphne runs a socket on."""

    def __init__(self, protocol, *, backlog_limit: int):
        self.protocol = protocol
        self.backlog_limit = backlog_limit

    @property
    def open(self) -> bool:
        return self.protocol.state == self.protocol.STATE_OPEN

    def backlog(self) -> int:
        return _unsent_bytes(self.protocol.transport)

    def write(self, frame: Frame) -> bool:
        """Send a frame now; return False if the client is too far behind."""
        if not self.open:
            return True
        if self.backlog() > self.backlog_limit:
            return False
        prepared = frame.prepared(self.protocol.factory)
        if not _send_now(self.protocol, prepared.payloadHybi):
            self.protocol.sendPreparedMessage(prepared)
        return True

    async def drained(self, limit: int) -> None:
        while self.open and self.backlog() > limit:
            await asyncio.sleep(DRAIN_POLL_SECONDS)

    async def close(self, code: int, reason: str, *, drop_backlog=False) -> None:
        # Written frames are in the transport already, ahead of the close
        # frame. Daphne drops the reason of an ASGI close; autobahn sends it.
        if self.open:
            self.protocol.closeHandshakeTimeout = CLOSE_TIMEOUT_SECONDS
            self.protocol.sendClose(code=code, reason=reason)


class QueueOutlet:
    """Queue frames for the ASGI `send` callable, drained by one task."""

    def __init__(self, send, *, backlog_limit: int):
        self._send = send
        self.backlog_limit = backlog_limit
        self._frames: deque[Frame] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.ensure_future(self._drain())
        self.open = True

    def backlog(self) -> int:
        return self._queued_bytes

    def write(self, frame: Frame) -> bool:
        """Queue a frame; return False if the client is too far behind."""
        if not self.open:
            return True
        if self._queued_bytes > self.backlog_limit:
            return False
        self._frames.append(frame)
        self._queued_bytes += len(frame.text)
        self._idle.clear()
        self._wake.set()
        return True

    async def drained(self, limit: int) -> None:
        while self.open and self._queued_bytes > limit:
            await asyncio.sleep(DRAIN_POLL_SECONDS)

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._frames:
                frame = self._frames[0]
                await self._send({"type": "websocket.send", "text": frame.text})
                self._frames.popleft()
                self._queued_bytes -= len(frame.text)
            self._idle.set()

    async def close(self, code: int, reason: str, *, drop_backlog=False) -> None:
        # A client that fell behind reads no further anyway, and a resume
        # after reconnecting sends its dropped frames again.
        if drop_backlog:
            self._frames.clear()
            self._queued_bytes = 0
        else:
            try:
                await asyncio.wait_for(self.flush(), CLOSE_TIMEOUT_SECONDS)
            except asyncio.TimeoutError:
                pass
        self.open = False
        await self.stop()
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def flush(self) -> None:
        """Wait until every queued frame has been handed to the server."""
        await self._idle.wait()

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


def outlet_for(send, *, backlog_limit: int):
    """Return the fastest outlet the server behind `send` allows."""
    protocol = _daphne_protocol(send)
    if protocol is not None:
        return DaphneOutlet(protocol, backlog_limit=backlog_limit)
    return QueueOutlet(send, backlog_limit=backlog_limit)


def _daphne_protocol(send):
    # Daphne hands each application `partial(server.handle_reply, protocol)`;
    # anything wrapped differently (a middleware, another server) falls back
    # to the ASGI path.
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:
        return None
    if isinstance(send, functools.partial) and send.args:
        protocol = send.args[0]
        if isinstance(protocol, WebSocketProtocol):
            return protocol
    return None


def _send_now(protocol, data: bytes) -> bool:
    """Hand a framed message to the kernel at once, as asyncio transports do.

    Twisted's transport would buffer it and send it on the next turn of the
    event loop, watching the socket for that; with hundreds of sockets per
    frame that bookkeeping is most of the cost of a broadcast. Only a plain
    TCP transport with nothing waiting is written to directly; what the
    kernel does not take goes to the transport's buffer, after which every
    frame goes that way until the buffer has drained.
    """
    transport = protocol.transport
    sock = getattr(transport, "socket", None)
    if (
        sock is None
        or getattr(transport, "TLS", False)
        or not getattr(transport, "connected", False)
        or getattr(transport, "_writeDisconnected", True)
        or protocol._perMessageCompress is not None
        or protocol.send_queue
        or _unsent_bytes(transport)
    ):
        return False
    try:
        sent = sock.send(data)
    except (BlockingIOError, InterruptedError):
        sent = 0
    except OSError:
        # Let Twisted meet the error on its own write and close the socket.
        return False
    if sent < len(data):
        transport.write(data[sent:])
    return True


def _unsent_bytes(transport) -> int:
    # Twisted's socket transports keep what the kernel did not take yet in
    # `dataBuffer` (from `offset` on) plus a list of pending writes; a TLS
    # wrapper sits on such a transport.
    total = 0
    while transport is not None:
        data_buffer = getattr(transport, "dataBuffer", None)
        if data_buffer is not None:
            total += len(data_buffer) - transport.offset + transport._tempDataLen
        transport = getattr(transport, "transport", None)
    return total
