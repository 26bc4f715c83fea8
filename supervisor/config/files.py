"""Read the files a configuration names — the YAML file and ``${file:}`` secrets — with bounds.

Both are read the same way: only regular files (a FIFO would block, ``/dev/zero`` never
ends), at most a fixed number of bytes, and only as UTF-8 (a byte order mark is accepted).
A refusal says what is wrong and where (the byte offset), never what the file holds: a
``${file:}`` may be a secret, or ``/proc/self/environ``.
"""
from __future__ import annotations

import codecs
import os
import stat

MAX_CONFIG_BYTES = 256 * 1024        # bytes: a real config is a few KiB
MAX_SECRET_FILE_BYTES = 64 * 1024    # bytes: a key or token file is well under 1 KiB


class FileProblem(ValueError):
    """The file cannot be used; the message completes "<path> …" and quotes none of its content."""


def read_text(path: str, limit: int) -> str:
    """The content of the regular file ``path`` as text, or FileProblem (also for OSError)."""
    return decode_utf8(read_bytes(path, limit))


def read_bytes(path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file; anything else, or anything longer, is a FileProblem."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it has no effect on regular files.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:   # ValueError: a NUL character in the path
        raise FileProblem(f"cannot be read: {_reason(exc)}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise FileProblem(f"is not a regular file (it is {_kind(mode)})")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)   # /proc files say size 0: count what is read
        except OSError as exc:
            raise FileProblem(f"cannot be read: {_reason(exc)}") from None
    if len(data) > limit:
        raise FileProblem(f"is larger than {limit} bytes (the limit for this file)")
    return data


def decode_utf8(data: bytes) -> str:
    """``data`` as UTF-8 text (a leading BOM dropped); UTF-16/32 and legacy encodings are refused."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise FileProblem("is UTF-32 (byte order mark at byte offset 0); save it as UTF-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem("is UTF-16 (byte order mark at byte offset 0); save it as UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    nul = data.find(b"\0")
    if nul >= 0:
        raise FileProblem(f"holds a NUL byte at byte offset {nul} (UTF-16 without a byte order mark, or a "
                          "binary file?); save it as UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileProblem(f"is not UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start} (line {line}) "
                          "is not valid UTF-8 (Latin-1 or another legacy encoding?); save it as UTF-8") from None


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a file")


def _reason(exc: Exception) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__
