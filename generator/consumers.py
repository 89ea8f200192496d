"""The WebSocket endpoint of a stream: /ws/arrays/ and /ws/arrays/NAME/.

A client gets `welcome`, then every array of its stream in seq order, and
may send `generate_array`, `resume` and `ping` (see the README's protocol
section). Arrays reach the consumer from its stream's hub in
`generator.fanout`; the consumer keeps this connection's own state: what it
has sent, what it holds back while replaying, its rate limit.
"""

import asyncio
import itertools
import logging
import re
import uuid

import orjson
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from generator import fanout, frames, replay, services, storage
from generator.exceptions import ArrayStreamError
from generator.outlets import Frame, QueueOutlet, outlet_for
from generator.ratelimit import RateLimit, parse_rate
from generator.records import new_array_frame
from generator.serializers import (
    DEFAULT_STREAM,
    STREAM_PATTERN,
    GenerateRequestSerializer,
)

logger = logging.getLogger(__name__)

# Close codes of the private range 4000-4999, each named after the standard
# or HTTP code it mirrors.
CLOSE_FELL_BEHIND = 4008
CLOSE_FELL_BEHIND_REASON = "fell behind; reconnect and resume"
CLOSE_STORAGE_UNAVAILABLE = 4013
CLOSE_INVALID_STREAM = 4400

# Connections are told apart across processes by this prefix.
PROCESS_ID = uuid.uuid4().hex[:12]
_connection_numbers = itertools.count(1)

# A bad rate stops the server at startup rather than at the first request.
parse_rate(
    settings.ARRAYSTREAM_WS_GENERATE_RATE, setting="ARRAYSTREAM_WS_GENERATE_RATE"
)


class ArrayStreamConsumer(AsyncWebsocketConsumer):
    """Serve one client of one stream: relay, generate and replay arrays."""

    # No channel per client: the stream's hub receives each array once for
    # every client of this process (see generator.fanout).
    channel_layer_alias = None

    async def dispatch(self, message):
        # The base class first closes stale SQL connections in a worker
        # thread, a thread hop per frame; this project keeps no SQL database.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.stream = self.scope["url_route"]["kwargs"].get("stream", DEFAULT_STREAM)
        self.connection_id = f"{PROCESS_ID}.{next(_connection_numbers)}"
        self.peer = _peer(self.scope)
        self.joined = False
        self.closing = False
        self.replaying = False
        self.held: list[tuple[int, Frame]] = []
        self.held_bytes = 0
        self.tasks: set[asyncio.Task] = set()
        self.backlog_limit = settings.ARRAYSTREAM_WS_BACKLOG_BYTES
        self.generate_slots = asyncio.Semaphore(
            settings.ARRAYSTREAM_WS_GENERATE_CONCURRENCY
        )
        self.rate_text = settings.ARRAYSTREAM_WS_GENERATE_RATE
        self.rate = RateLimit(
            *parse_rate(self.rate_text, setting="ARRAYSTREAM_WS_GENERATE_RATE")
        )

        await self.accept()
        self.outlet = outlet_for(self.base_send, backlog_limit=self.backlog_limit)
        if not re.match(STREAM_PATTERN, self.stream):
            self.send_error(
                detail=(
                    "The stream name must be 1 to 64 characters of a-z, 0-9, - "
                    f"and _; got {self.stream!r}. Connect to /ws/arrays/NAME/ "
                    "with a valid name."
                ),
                code="invalid_stream",
            )
            await self.outlet.close(CLOSE_INVALID_STREAM, "invalid stream name")
            return
        try:
            latest_seq = await fanout.join(self.stream, self)
        except ArrayStreamError as error:
            self.send_error(**error.as_dict())
            await self.outlet.close(
                CLOSE_STORAGE_UNAVAILABLE, "storage unavailable; reconnect shortly"
            )
            return

        # Nothing may be awaited between joining and these lines: the hub
        # pushes arrays after `latest_seq` from the next loop turn on.
        self.joined = True
        self.sent_from = self.last_sent = latest_seq
        self.send_json(
            {"type": "welcome", "stream": self.stream, "latest_seq": latest_seq}
        )
        logger.info(
            "socket accepted stream=%s peer=%s latest_seq=%d",
            self.stream,
            self.peer,
            latest_seq,
        )
        after_seq = frames.query_after_seq(self.scope)
        if after_seq is not None:
            await self.resume({"after_seq": after_seq}, None)

    async def disconnect(self, code):
        if self.joined:
            fanout.leave(self.stream, self)
        for task in self.tasks:
            # Generations finish (their arrays are stored and broadcast
            # anyway); replays for a gone client do not.
            if getattr(task, "replay", False):
                task.cancel()
        if isinstance(getattr(self, "outlet", None), QueueOutlet):
            await self.outlet.stop()
        logger.info(
            "socket closed stream=%s peer=%s code=%s last_seq=%s",
            getattr(self, "stream", "?"),
            getattr(self, "peer", "?"),
            code,
            getattr(self, "last_sent", None),
        )

    # --- Frames from the client ----------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if not self.joined or self.closing:
            return
        try:
            kind, frame, request_id = frames.parse_frame(
                text_data,
                bytes_data,
                max_bytes=settings.ARRAYSTREAM_WS_MAX_FRAME_BYTES,
            )
        except frames.FrameError as error:
            self.reject(error.request_id, error.code, error.detail)
            return
        except frames.FieldError as error:
            self.send_error(error.request_id, errors=error.errors)
            return
        await getattr(self, kind)(frame, request_id)

    async def ping(self, frame, request_id):
        self.send_json({"type": "pong"})

    async def generate_array(self, frame, request_id):
        wait = self.rate.take()
        if wait:
            self.reject(
                request_id,
                "rate_limited",
                "Too many generate_array requests on this connection: the limit "
                f"is {self.rate_text}. Send it again in {wait:.1f} s.",
            )
            return
        fields = {k: v for k, v in frame.items() if k not in ("type", "request_id")}
        if "stream" in fields:
            self.send_error(
                request_id,
                errors={
                    "stream": [
                        "generate_array takes no stream: the socket's URL names it "
                        f"(this socket is on {self.stream!r}). Connect to "
                        "/ws/arrays/NAME/ to generate on the stream NAME."
                    ]
                },
            )
            return
        serializer = GenerateRequestSerializer(data=fields)
        if not serializer.is_valid():
            logger.warning(
                "generate rejected stream=%s peer=%s fields=%s",
                self.stream,
                self.peer,
                ",".join(serializer.errors),
            )
            self.send_error(request_id, errors=serializer.errors)
            return
        params = dict(serializer.validated_data)
        params.pop("stream")

        # A client with too many generations running waits here, which
        # stops reading its further frames; other clients are not affected.
        await self.generate_slots.acquire()
        self.spawn(self.run_generation(params, request_id))

    async def run_generation(self, params: dict, request_id) -> None:
        requester = {"connection": self.connection_id, "request_id": request_id}
        try:
            created = await fanout.in_thread(services.array_create)(
                **params, stream=self.stream, source="websocket", requester=requester
            )
        except ArrayStreamError as error:
            logger.warning(
                "generate failed stream=%s peer=%s code=%s: %s",
                self.stream,
                self.peer,
                error.code,
                error.message,
            )
            self.send_error(request_id, **error.as_dict())
        except Exception:
            logger.exception(
                "generate crashed stream=%s peer=%s", self.stream, self.peer
            )
            self.send_error(
                request_id,
                detail="The array could not be generated because of a server error; "
                "try again.",
                code="server_error",
            )
        else:
            # This process's clients, the requester first of all, get the
            # array now, even with the channel layer down or slow; the copy
            # the layer brings back is then dropped as already delivered.
            fanout.publish_locally(created.message)
        finally:
            self.generate_slots.release()

    async def resume(self, frame, request_id):
        try:
            after_seq = frames.after_seq_of(frame.get("after_seq"), request_id)
        except frames.FieldError as error:
            self.send_error(request_id, errors=error.errors)
            return
        if self.replaying:
            self.reject(
                request_id,
                "resume_in_progress",
                "A resume is already replaying on this connection; send the next "
                "one after it has finished.",
            )
            return
        # Set before any await, so live arrays are held from now on.
        self.replaying = True
        self.spawn(self.run_replay(after_seq, request_id), replay=True)

    async def run_replay(self, after_seq: int, request_id) -> None:
        """Send the arrays after `after_seq` this connection has not sent."""
        try:
            if after_seq >= self.sent_from:
                await self.skip_to(after_seq, request_id)
                return
            missing = self.sent_from - after_seq
            if missing > settings.ARRAYSTREAM_WS_RESUME_MAX:
                self.reject(
                    request_id,
                    "resume_too_far",
                    f"{missing} arrays of the stream {self.stream!r} follow seq "
                    f"{after_seq}, more than the "
                    f"{settings.ARRAYSTREAM_WS_RESUME_MAX} a resume replays. Reload "
                    f"the history (GET /api/history?stream={self.stream}) and "
                    "carry on with the live arrays.",
                )
                return
            cursor, through = after_seq, self.sent_from
            while cursor < through and not self.closing:
                messages = await fanout.in_thread(replay.published_after)(
                    stream=self.stream, after_seq=cursor, through_seq=through
                )
                if not messages:
                    break
                for message in messages:
                    self.send_frame(Frame(new_array_frame(message["record"])))
                    cursor = message["seq"]
                # Pace the replay to the client's reading.
                await self.outlet.drained(self.backlog_limit // 2)
            self.sent_from = after_seq
        except ArrayStreamError as error:
            self.send_error(request_id, **error.as_dict())
        finally:
            self.replaying = False
            held, self.held, self.held_bytes = self.held, [], 0
            for seq, frame in held:
                self.push(seq, frame)

    async def skip_to(self, after_seq: int, request_id) -> None:
        # The client holds arrays this connection has not sent (it got them
        # from another server process): carry on after them.
        if after_seq <= self.last_sent:
            return
        latest_seq = await fanout.in_thread(storage.latest_seq)(self.stream)
        if after_seq > latest_seq:
            self.reject(
                request_id,
                "resume_ahead",
                f"after_seq {after_seq} is past the newest array of the stream "
                f"{self.stream!r} (seq {latest_seq}). Resume after a seq you "
                "have received.",
            )
            return
        self.last_sent = after_seq

    # --- Frames to the client ------------------------------------------------

    def push(self, seq: int, frame: Frame) -> None:
        """Take the next array from the hub: send it, or hold it while replaying."""
        if seq <= self.last_sent or self.closing:
            return
        if self.replaying:
            self.held.append((seq, frame))
            self.held_bytes += len(frame.text)
            if self.held_bytes + self.outlet.backlog() > self.backlog_limit:
                self.fall_behind()
            return
        self.last_sent = seq
        self.send_frame(frame)

    def send_frame(self, frame: Frame) -> None:
        if not self.closing and not self.outlet.write(frame):
            self.fall_behind()

    def send_json(self, body: dict) -> None:
        self.send_frame(Frame(orjson.dumps(body).decode()))

    def send_error(self, request_id=None, *, detail=None, code=None, errors=None):
        body = {"type": "error", "request_id": request_id}
        if errors is not None:
            body["errors"] = errors
        else:
            body["detail"] = detail
            body["code"] = code
        self.send_json(body)

    def reject(self, request_id, code: str, detail: str) -> None:
        logger.warning(
            "frame rejected stream=%s peer=%s code=%s", self.stream, self.peer, code
        )
        self.send_error(request_id, detail=detail, code=code)

    def fall_behind(self) -> None:
        """Close a client whose unread backlog passed its bound."""
        if self.closing:
            return
        self.closing = True
        logger.info(
            "socket fell behind stream=%s peer=%s backlog=%d last_seq=%d",
            self.stream,
            self.peer,
            self.outlet.backlog() + self.held_bytes,
            self.last_sent,
        )
        fanout.leave(self.stream, self)
        self.held, self.held_bytes = [], 0
        self.spawn(
            self.outlet.close(
                CLOSE_FELL_BEHIND, CLOSE_FELL_BEHIND_REASON, drop_backlog=True
            )
        )

    def spawn(self, coroutine, *, replay: bool = False) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        task.replay = replay
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Refuse a WebSocket handshake on a path that serves no stream."""

    channel_layer_alias = None

    async def connect(self):
        logger.warning(
            "socket refused path=%s peer=%s: no such endpoint; streams are at "
            "/ws/arrays/ and /ws/arrays/NAME/",
            self.scope.get("path"),
            _peer(self.scope),
        )
        await self.close()


def _peer(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "unknown"
