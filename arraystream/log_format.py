"""Log formatters selected by ARRAYSTREAM_LOG_FORMAT."""

import logging
from datetime import datetime, timezone

import orjson


class JSONLinesFormatter(logging.Formatter):
    """Format each record as one JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()
