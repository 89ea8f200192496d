"""One subscription per server process and stream: the hub that fans out.

Every WebSocket client of a stream on this process registers with the
stream's hub. The hub joins the stream's channel-layer group once, receives
each published array once, puts the arrays in seq order and hands the same
frame to every local client, so that the cost per client is one write.

Order and gaps: concurrent generations may publish seq N+1 before N. The
hub holds N+1 until N arrives; after ARRAYSTREAM_WS_GAP_WAIT_MS it reads the
missing arrays from MongoDB, and after ARRAYSTREAM_WS_GAP_GIVE_UP_MS it
skips a seq that was never stored (its write failed). An idle hub also asks
MongoDB now and then whether arrays were stored whose broadcast never came
(the channel layer was down), and delivers them the same way.
"""

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from generator import broadcast, replay, storage
from generator.exceptions import ArrayStreamError, StorageUnavailable
from generator.outlets import Frame
from generator.records import new_array_frame

logger = logging.getLogger(__name__)

# A hub outlives its last client by this long, so that clients reconnecting
# right away find the stream's position in memory.
LINGER_SECONDS = 30.0
# A new hub waits this long for its subscription before it serves clients
# anyway; arrays published meanwhile are caught up from MongoDB.
FIRST_SUBSCRIBE_SECONDS = 2.0
SUBSCRIBE_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
POSITION_RETRY_SECONDS = 1.0
# Arrays held back behind a missing one. Past this many (the missing one
# cannot be read because this process cannot reach MongoDB while others
# can), the hub gives the missing ones up rather than grow without bound.
MAX_PENDING = 1000

_hubs: dict[tuple[asyncio.AbstractEventLoop, str], "StreamHub"] = {}


def in_thread(function):
    """Wrap a blocking function to run in a worker thread, off the event loop."""
    return sync_to_async(function, thread_sensitive=False)


class StreamHub:
    """Receive one stream's arrays once and deliver them in order to clients."""

    def __init__(self, stream: str):
        self.stream = stream
        self.group = broadcast.group_name(stream)
        self.layer = get_channel_layer()
        self.clients: dict[str, object] = {}
        # The last seq delivered or given up; None until read from MongoDB.
        self.cursor: int | None = None
        # The highest seq known to be handed out on the stream.
        self.horizon = 0
        self.pending: dict[int, dict] = {}
        self.joining = 0
        # The hub's own channel in the layer, member of the stream's group.
        self._channel: str | None = None
        self._gap_since: float | None = None
        self._gap_task: asyncio.Task | None = None
        self._last_arrival = time.monotonic()
        self._ready = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._position_error: ArrayStreamError | None = None
        self._stop_handle: asyncio.TimerHandle | None = None
        self._tasks = [
            asyncio.ensure_future(self._listen()),
            asyncio.ensure_future(self._start()),
        ]

    # --- Clients -------------------------------------------------------------

    async def wait_ready(self) -> None:
        """Wait until the stream's position is known, or raise why it is not."""
        timeout = settings.MONGODB_TIMEOUT_MS / 1000 + FIRST_SUBSCRIBE_SECONDS + 1
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError:
            raise self._position_error or StorageUnavailable() from None

    def add(self, client) -> int:
        if self._stop_handle is not None:
            self._stop_handle.cancel()
            self._stop_handle = None
        self.clients[client.connection_id] = client
        return self.cursor

    def remove(self, client) -> None:
        self.clients.pop(client.connection_id, None)
        self.stop_when_idle()

    def stop_when_idle(self) -> None:
        if self.clients or self.joining or self._stop_handle is not None:
            return
        loop = asyncio.get_running_loop()
        self._stop_handle = loop.call_later(LINGER_SECONDS, self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        self._stop_handle = None
        if self.clients or self.joining:
            return
        _hubs.pop((asyncio.get_running_loop(), self.stream), None)
        asyncio.ensure_future(self.stop())

    async def stop(self) -> None:
        if self._stop_handle is not None:
            self._stop_handle.cancel()
        tasks = [*self._tasks, self._gap_task]
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in tasks if t is not None), return_exceptions=True
        )
        if self._channel is not None:
            try:
                await self.layer.group_discard(self.group, self._channel)
            except Exception as error:
                logger.debug(
                    "stream unsubscribe failed stream=%s: %r", self.stream, error
                )
        logger.info("stream hub stopped stream=%s", self.stream)

    # --- Receiving -----------------------------------------------------------

    async def _listen(self) -> None:
        await self._subscribe()
        while True:
            try:
                message = await self.layer.receive(self._channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("stream receive failed stream=%s", self.stream)
                await asyncio.sleep(POSITION_RETRY_SECONDS)
                continue
            if message.get("type") == broadcast.ARRAY_PUBLISHED:
                self.offer(message)

    async def _subscribe(self) -> None:
        attempt = 0
        while True:
            try:
                if self._channel is None:
                    self._channel = await self.layer.new_channel()
                await self.layer.group_add(self.group, self._channel)
                break
            except Exception as error:
                # The channel layer (Redis) is down: local clients are still
                # served, and what was missed is caught up from MongoDB.
                delay = SUBSCRIBE_RETRY_SECONDS[
                    min(attempt, len(SUBSCRIBE_RETRY_SECONDS) - 1)
                ]
                logger.warning(
                    "stream subscribe failed stream=%s attempt=%d retry_s=%.1f: %r",
                    self.stream,
                    attempt + 1,
                    delay,
                    error,
                )
                attempt += 1
                await asyncio.sleep(delay)
        self._subscribed.set()
        if attempt and self.cursor is not None:
            logger.info("stream subscribed stream=%s attempts=%d", self.stream, attempt)
            await self._check_position()

    async def _start(self) -> None:
        try:
            await asyncio.wait_for(self._subscribed.wait(), FIRST_SUBSCRIBE_SECONDS)
        except asyncio.TimeoutError:
            pass
        while True:
            try:
                position = await in_thread(storage.latest_seq)(self.stream)
                break
            except ArrayStreamError as error:
                self._position_error = error
                logger.warning(
                    "stream position unknown stream=%s: %s", self.stream, error.message
                )
                await asyncio.sleep(POSITION_RETRY_SECONDS)
        self.cursor = position
        self.horizon = max(self.horizon, position)
        for seq in [seq for seq in self.pending if seq <= position]:
            del self.pending[seq]
        self._ready.set()
        logger.info("stream hub started stream=%s latest_seq=%d", self.stream, position)
        self._drain()
        await self._catch_up_forever()

    async def _catch_up_forever(self) -> None:
        while True:
            period = settings.ARRAYSTREAM_WS_CATCH_UP_SECONDS
            await asyncio.sleep(period)
            if self._subscribed.is_set():
                await self._renew_subscription()
            idle = time.monotonic() - self._last_arrival >= period
            if idle and self._gap_task is None:
                await self._check_position()

    async def _renew_subscription(self) -> None:
        # The in-memory layer forgets group members after a day; Redis keeps
        # them, and there adding a member again costs nothing.
        try:
            await self.layer.group_add(self.group, self._channel)
        except Exception as error:
            logger.debug(
                "stream subscription renewal failed stream=%s: %r", self.stream, error
            )

    async def _check_position(self) -> None:
        try:
            position = await in_thread(replay.stream_position)(self.stream)
        except ArrayStreamError as error:
            logger.debug("stream catch-up skipped stream=%s: %s", self.stream, error)
            return
        if position > self.horizon:
            logger.info(
                "stream catching up stream=%s cursor=%d position=%d",
                self.stream,
                self.cursor,
                position,
            )
            self.horizon = position
            self._note_gap()

    # --- Ordering ------------------------------------------------------------

    def offer(self, message: dict) -> None:
        """Take a published array: deliver it in order, once."""
        seq = message["seq"]
        self._last_arrival = time.monotonic()
        if self.cursor is not None and seq <= self.cursor:
            return
        if seq not in self.pending or message.get("requester"):
            self.pending[seq] = message
        self.horizon = max(self.horizon, seq)
        if self.cursor is None:
            if len(self.pending) > MAX_PENDING:
                del self.pending[min(self.pending)]
            return
        if len(self.pending) > MAX_PENDING:
            self._give_up(min(self.pending) - 1, "too many arrays waiting")
        self._drain()

    def _give_up(self, through: int, why: str) -> None:
        logger.warning(
            "stream seq given up stream=%s seq=%d-%d: %s",
            self.stream,
            self.cursor + 1,
            through,
            why,
        )
        self.cursor = through
        self._gap_since = None

    def _drain(self) -> None:
        advanced = False
        while self.cursor + 1 in self.pending:
            self.cursor += 1
            self._deliver(self.pending.pop(self.cursor))
            advanced = True
        if advanced:
            self._gap_since = None
        self._note_gap()

    def _note_gap(self) -> None:
        if self.cursor is None or self.cursor >= self.horizon:
            self._gap_since = None
            return
        if self._gap_since is None:
            self._gap_since = time.monotonic()
        if self._gap_task is None:
            self._gap_task = asyncio.ensure_future(self._fill_gap())

    async def _fill_gap(self) -> None:
        try:
            while self.cursor < self.horizon:
                wait = settings.ARRAYSTREAM_WS_GAP_WAIT_MS / 1000
                waited = time.monotonic() - (self._gap_since or time.monotonic())
                if waited < wait:
                    await asyncio.sleep(wait - waited)
                    continue
                through = min(self.pending) - 1 if self.pending else self.horizon
                try:
                    messages = await in_thread(replay.published_after)(
                        stream=self.stream, after_seq=self.cursor, through_seq=through
                    )
                except ArrayStreamError as error:
                    # Storage is down: whether the array exists is unknown,
                    # so keep waiting rather than skip one that may.
                    logger.warning(
                        "stream gap fill failed stream=%s after_seq=%d: %s",
                        self.stream,
                        self.cursor,
                        error.message,
                    )
                    await asyncio.sleep(wait)
                    continue
                for message in messages:
                    self.offer(message)
                if messages or self.cursor >= through:
                    continue
                if waited >= settings.ARRAYSTREAM_WS_GAP_GIVE_UP_MS / 1000:
                    self._give_up(through, f"never stored ({waited:.1f} s)")
                    self._drain()
                else:
                    await asyncio.sleep(wait)
        finally:
            self._gap_task = None

    def _deliver(self, message: dict) -> None:
        seq = message["seq"]
        record_json = message["record"]
        frame = Frame(new_array_frame(record_json))
        requester = message.get("requester") or {}
        own = self.clients.get(requester.get("connection"))
        for client in tuple(self.clients.values()):
            try:
                if client is own:
                    request_id = requester.get("request_id")
                    client.push(seq, Frame(new_array_frame(record_json, request_id)))
                else:
                    client.push(seq, frame)
            except Exception:
                logger.exception(
                    "array delivery failed stream=%s seq=%d", self.stream, seq
                )


async def join(stream: str, client) -> int:
    """Register a client with its stream's hub; return the seq it starts after."""
    key = (asyncio.get_running_loop(), stream)
    hub = _hubs.get(key)
    if hub is None:
        hub = _hubs[key] = StreamHub(stream)
    hub.joining += 1
    try:
        await hub.wait_ready()
    except BaseException:
        # Refused or cancelled (the client went away): a hub nobody joined
        # must still stop.
        hub.joining -= 1
        hub.stop_when_idle()
        raise
    hub.joining -= 1
    return hub.add(client)


def leave(stream: str, client) -> None:
    """Unregister a client; its hub stops a while after its last client."""
    hub = _hubs.get((asyncio.get_running_loop(), stream))
    if hub is not None:
        hub.remove(client)


def publish_locally(message: dict) -> None:
    """Deliver a just-stored array to this process's clients right away.

    Its copy from the channel layer, if that comes, is then dropped as
    already delivered; if the layer is down, these clients still get it.
    """
    hub = _hubs.get((asyncio.get_running_loop(), message["stream"]))
    if hub is not None:
        hub.offer(message)


async def stop_all() -> None:
    """Stop every hub of the running event loop (tests and shutdown)."""
    loop = asyncio.get_running_loop()
    for key in [key for key in _hubs if key[0] is loop]:
        await _hubs.pop(key).stop()
