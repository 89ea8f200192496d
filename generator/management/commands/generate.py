"""The `generate` command: make arrays from the shell, exactly as the API does.

Each array is validated by `GenerateRequestSerializer` and made by
`services.array_create`, so it is stored and broadcast like any other: live
clients see it when the channel layer is Redis. The command adds what a shell
user needs around that: a progress bar on a terminal, one plain line per
array otherwise, a summary at the end, and a clean stop on Ctrl-C between two
arrays.
"""

import logging
import math
import os
import re
import signal
import sys
import time

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from generator import services, storage
from generator.exceptions import ArrayStreamError, StorageUnavailable
from generator.serializers import MAX_SEED, GenerateRequestSerializer

REQUEST_FIELDS = ("size", "range_start", "range_end", "seed", "stream")
WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")
# Per-array log lines repeat what the command prints itself; -v 2 shows them.
QUIET_LOGGERS = ("generator.services",)


class StopRequested(Exception):
    """Raised by the signal handler to cut a wait between two arrays short."""


def option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def parse_integer(raw: str | None):
    """Turn a whole number into an int; leave anything else for the serializer.

    The serializer refuses text, so "abc" or "1.5" reach it unchanged and get
    the same message the API gives for them.
    """
    if raw is not None and WHOLE_NUMBER.match(raw.strip()):
        return int(raw.strip())
    return raw


def parse_count(raw: str | None) -> int | None:
    if raw is None:
        return None
    count = parse_integer(raw)
    if not isinstance(count, int) or count < 1:
        raise CommandError(
            f"--count must be a whole number of arrays, 1 or more; got {raw!r}."
        )
    return count


def parse_interval(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        interval = float(raw)
    except ValueError:
        interval = math.nan
    if not math.isfinite(interval) or interval < 0:
        raise CommandError(
            "--interval must be a number of seconds, 0 or more (for example 0.5); "
            f"got {raw!r}."
        )
    return interval


def mongodb_location() -> str:
    """Say where MongoDB was looked for, without any password in the URI."""
    if not settings.MONGODB_URI:
        return (
            "the embedded development server on "
            f"127.0.0.1:{settings.EMBEDDED_MONGODB_PORT}"
        )
    without_credentials = re.sub(r"//[^@/]*@", "//", settings.MONGODB_URI)
    return without_credentials.split("?")[0]


class Progress:
    """Show each stored array: a bar on a terminal, else one line per array."""

    def __init__(self, *, command: BaseCommand, total: int | None, verbosity: int):
        self.command = command
        self.total = total
        self.verbosity = verbosity
        self.bar = None
        if verbosity >= 1 and command.stdout.isatty():
            # tqdm redraws one line with carriage returns, which Django's
            # OutputWrapper would break up; give it the terminal itself.
            self.bar = tqdm(total=total, unit="array", file=sys.stdout, leave=True)

    def advance(self, number: int, created: services.CreatedArray) -> None:
        record = created.record
        if self.bar is not None:
            self.bar.set_postfix_str(f"stream={record.stream} seq={record.seq}")
            self.bar.update(1)
            return
        if self.verbosity >= 1:
            position = f"{number}/{self.total}" if self.total else str(number)
            self.command.stdout.write(
                f"array {position} id={record.id} stream={record.stream} "
                f"seq={record.seq} size={record.size} seed={record.seed}"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Command(BaseCommand):
    help = (
        "Generate arrays of random integers, store them in MongoDB and broadcast "
        "them to live clients, as POST /api/generate does."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--count",
            help="How many arrays to generate: 1 by default; with --interval, "
            "until stopped.",
        )
        parser.add_argument(
            "--size",
            help=f"Values per array, {settings.ARRAYSTREAM_MIN_SIZE} to "
            f"{settings.ARRAYSTREAM_MAX_SIZE}; {settings.ARRAYSTREAM_MIN_SIZE} "
            "by default.",
        )
        parser.add_argument(
            "--range-start",
            dest="range_start",
            help="Smallest value that may be drawn (inclusive); 0 by default.",
        )
        parser.add_argument(
            "--range-end",
            dest="range_end",
            help="Largest value that may be drawn (inclusive); 99999 by default.",
        )
        parser.add_argument(
            "--seed",
            help="Seed of the first array; the next arrays take seed+1, seed+2 "
            "and so on. Drawn from OS entropy for each array when omitted.",
        )
        parser.add_argument(
            "--stream",
            help="Stream to publish on: 1 to 64 of a-z 0-9 - _; 'global' by default.",
        )
        parser.add_argument(
            "--interval",
            metavar="SECONDS",
            help="Keep generating, one array every SECONDS, until Ctrl-C (or "
            "until --count arrays).",
        )

    def handle(self, *args, **options):
        interval = parse_interval(options["interval"])
        count = parse_count(options["count"])
        if count is None and interval is None:
            count = 1
        request = self.validated_request(options, count)
        verbosity = self.verbosity = options["verbosity"]

        self.check_storage()
        if verbosity >= 1 and isinstance(get_channel_layer(), InMemoryChannelLayer):
            self.stderr.write(
                "Note: REDIS_URL is not set, so the channel layer is in-memory: "
                "live clients of other processes (the web server) will not see "
                "these arrays. They are stored and appear in the history.",
                style_func=self.style.WARNING,
            )

        if verbosity < 2:
            for name in QUIET_LOGGERS:
                logging.getLogger(name).setLevel(logging.WARNING)
        self.stop_requested = False
        self.waiting = False
        previous_handlers = {
            sig: signal.signal(sig, self.request_stop)
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.run(request, count=count, interval=interval, verbosity=verbosity)
        finally:
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)

    def validated_request(self, options: dict, count: int | None) -> dict:
        """Validate the request through the API's serializer; return its data."""
        data = {}
        for field in REQUEST_FIELDS:
            if options[field] is not None:
                raw = options[field]
                data[field] = raw if field == "stream" else parse_integer(raw)
        serializer = GenerateRequestSerializer(data=data)
        if not serializer.is_valid():
            messages = [
                f"{option_name(field)}: {' '.join(str(error) for error in errors)}"
                for field, errors in serializer.errors.items()
            ]
            raise CommandError(" ".join(messages))
        request = serializer.validated_data
        seed = request["seed"]
        if seed is not None and count is not None and seed + count - 1 > MAX_SEED:
            raise CommandError(
                f"--seed {seed} with --count {count} would need seeds up to "
                f"{seed + count - 1}, past the largest seed {MAX_SEED}; "
                "give a smaller --seed or --count."
            )
        return dict(request)

    def check_storage(self) -> None:
        """Fail before generating anything when MongoDB does not answer."""
        try:
            storage.ping()
        except ArrayStreamError as error:
            raise CommandError(self.storage_message(error)) from error

    def storage_message(self, error: ArrayStreamError) -> str:
        if isinstance(error, StorageUnavailable):
            return (
                f"Storage is unavailable: MongoDB did not answer at "
                f"{mongodb_location()} within {settings.MONGODB_TIMEOUT_MS} ms. "
                "Check MONGODB_URI, or start MongoDB with "
                "`docker compose up -d mongo`."
            )
        return f"{error.message} Check the MongoDB server's log."

    def request_stop(self, signum, frame) -> None:
        # An array being made is finished and stored; only a wait is cut.
        if not self.stop_requested and self.verbosity >= 1:
            # A raw write: the interrupted code may be inside a buffered one.
            os.write(sys.stderr.fileno(), b"Stopping after the current array.\n")
        self.stop_requested = True
        if self.waiting:
            raise StopRequested()

    def wait_until(self, moment: float) -> None:
        try:
            self.waiting = True
            if not self.stop_requested:
                time.sleep(max(0.0, moment - time.monotonic()))
        finally:
            self.waiting = False

    def run(
        self, request: dict, *, count: int | None, interval: float | None, verbosity
    ) -> None:
        progress = Progress(command=self, total=count, verbosity=verbosity)
        started = time.monotonic()
        made = values = 0
        failure = None
        try:
            while not self.stop_requested and (count is None or made < count):
                if made and interval:
                    self.wait_until(started + made * interval)
                    if self.stop_requested:
                        break
                seed = request["seed"]
                if seed is not None and seed + made > MAX_SEED:
                    failure = f"--seed ran past the largest seed {MAX_SEED}."
                    break
                try:
                    created = services.array_create(
                        **{**request, "seed": None if seed is None else seed + made},
                        source="command",
                    )
                except ArrayStreamError as error:
                    failure = self.storage_message(error)
                    break
                made += 1
                values += created.record.size
                progress.advance(made, created)
        except StopRequested:
            pass
        finally:
            progress.close()

        if verbosity >= 1:
            self.write_summary(
                made=made,
                values=values,
                stream=request["stream"],
                seconds=time.monotonic() - started,
                stopped=self.stop_requested,
            )
        if failure:
            raise CommandError(failure)

    def write_summary(self, *, made, values, stream, seconds, stopped) -> None:
        rate = made / seconds if seconds > 0 else 0.0
        arrays = "array" if made == 1 else "arrays"
        ending = " Stopped by request." if stopped else ""
        self.stdout.write(
            f"Generated {made} {arrays} ({values:,} values) on stream {stream} in "
            f"{seconds:.2f} s: {rate:.1f} arrays/s.{ending}"
        )
