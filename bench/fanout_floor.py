"""The floor of the fan-out benchmark: a bare `websockets` server.

It does the least work serving a stream needs: on `generate_array` it draws
the values with NumPy, inserts their bytes into the MongoDB-protocol server
once, encodes one `new_array` frame with orjson and broadcasts that frame to
every connected client. No validation, no seq counter in MongoDB, no record,
no channel layer. `bench.fanout` runs it as its own process:

    python -m bench.fanout_floor --port 8765 --mongodb-uri mongodb://...
"""

import argparse
import asyncio

import numpy as np
import orjson
import pymongo
from bson import Binary, ObjectId
from websockets.asyncio.server import broadcast, serve

SIZE = 10_000
RANGE_END = 99_999


async def serve_floor(port: int, mongodb_uri: str, database: str) -> None:
    collection = pymongo.MongoClient(mongodb_uri)[database]["floor_values"]
    clients = set()
    seq = 0

    async def handler(websocket):
        nonlocal seq
        clients.add(websocket)
        try:
            await websocket.send(
                orjson.dumps({"type": "welcome", "latest_seq": seq}).decode()
            )
            async for text in websocket:
                frame = orjson.loads(text)
                if frame.get("type") != "generate_array":
                    continue
                seq += 1
                values = np.random.default_rng(frame.get("seed")).integers(
                    0, RANGE_END, frame.get("size", SIZE), endpoint=True, dtype=np.int32
                )
                collection.insert_one(
                    {"_id": ObjectId(), "data": Binary(values.tobytes())}
                )
                body = {
                    "type": "new_array",
                    "request_id": frame.get("request_id"),
                    "seq": seq,
                    "size": len(values),
                    "array": values,
                }
                broadcast(
                    clients,
                    orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                )
        finally:
            clients.discard(websocket)

    async with serve(
        handler, "127.0.0.1", port, compression=None, max_size=2**20, max_queue=None
    ):
        await asyncio.Future()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mongodb-uri", required=True)
    parser.add_argument("--database", default="arraystream_bench_floor")
    options = parser.parse_args()
    asyncio.run(serve_floor(options.port, options.mongodb_uri, options.database))


if __name__ == "__main__":
    main()
