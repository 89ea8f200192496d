"""Read stored arrays back as broadcast messages, for `resume` and gap filling.

Every function here talks to MongoDB synchronously: callers on the event
loop run them in a worker thread.
"""

from generator import broadcast, records, storage
from generator.documents import StreamCounter
from generator.services import announced_by_url, array_url
from history.selectors import array_list_after

# Records read per query. A page also stops once it has loaded this many
# values, so that replaying large arrays never holds many of them at once.
PAGE_SIZE = 50
PAGE_VALUES = 4_000_000


def broadcast_json(record) -> str:
    """Encode a stored record as its broadcast carries it: values or their URL."""
    if announced_by_url(record.size):
        payload = records.record_payload(record, array_url=array_url(record.id))
    else:
        payload = records.record_payload(record, storage.load_values(record))
    return records.encode(payload).decode()


def published_after(*, stream: str, after_seq: int, through_seq: int) -> list[dict]:
    """Return the broadcast messages of stored arrays after `after_seq`.

    Oldest first, none past `through_seq`; a page may end early (see
    PAGE_VALUES) but always holds at least one message when one is due.
    """
    found = array_list_after(stream=stream, after_seq=after_seq, limit=PAGE_SIZE)
    messages = []
    loaded = 0
    for record in found:
        if record.seq > through_seq:
            break
        if messages and loaded + record.size > PAGE_VALUES:
            break
        messages.append(
            broadcast.published_message(
                stream=stream, seq=record.seq, record_json=broadcast_json(record)
            )
        )
        loaded += record.size
    return messages


def stream_position(stream: str) -> int:
    """Return the last seq handed out on a stream, stored yet or not."""
    with storage.storage_errors():
        counter = StreamCounter.objects(id=stream).first()
    return counter.seq if counter else 0
