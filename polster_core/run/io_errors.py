"""What an I/O error says, read off polars' messages as well as ``OSError``'s: a full disk, a
file that is not (or no longer) parquet, an I/O error under polars' parquet reader or writer.

Plain text matching: nothing here imports polars.
"""

from __future__ import annotations

import errno

from ..exceptions import exception_chain

IO_ERROR = "underlying IO error: "
NOT_PARQUET = "File out of specification:"


def no_space(exc: BaseException) -> bool:
    """Whether the disk was full (an OSError, or polars' report of one)."""
    return any(
        getattr(e, "errno", None) == errno.ENOSPC
        or "No space left on device" in str(e)
        or "(os error 28)" in str(e)
        for e in exception_chain(exc)
    )


def not_parquet(exc: BaseException) -> bool:
    """Whether polars found the bytes are not (or no longer) a parquet file."""
    text = str(exc)
    return NOT_PARQUET in text and IO_ERROR not in text
