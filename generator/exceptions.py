"""Errors raised by ArrayStream's services, free of any web framework.

The REST exception handler, the WebSocket consumer and the `generate`
command each turn these into their own kind of answer.
"""


class ArrayStreamError(Exception):
    """Base of the errors a client can be told about."""

    default_message = "The request could not be completed."
    code = "error"
    status = 400

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)

    def as_dict(self) -> dict:
        return {"detail": self.message, "code": self.code}


class StorageUnavailable(ArrayStreamError):
    default_message = (
        "Storage is unavailable: MongoDB did not answer. Nothing was stored; "
        "try again shortly."
    )
    code = "storage_unavailable"
    status = 503


class StorageFailed(ArrayStreamError):
    default_message = "Storage failed: MongoDB refused the operation."
    code = "storage_failed"
    status = 503


class ArrayNotFound(ArrayStreamError):
    default_message = "No array has this id."
    code = "not_found"
    status = 404
