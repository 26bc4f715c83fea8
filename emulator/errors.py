"""The one exception every emulator route raises to answer with a JSON error.

The wire shape is the cloud's: ``{"error": str, "detail"?: any}`` with an HTTP status.
``close`` asks the HTTP layer to close the connection after answering (used when the
request body could not be read, so the stream position is unknown).
"""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error answer: status, a short message and optional structured detail."""

    def __init__(self, status: int, error: str, detail: Any = None, *, close: bool = False) -> None:
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.detail = detail
        self.close = close

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``detail`` only when there is one."""
        body: dict[str, Any] = {"error": self.error}
        if self.detail is not None:
            body["detail"] = self.detail
        return body
