"""A write-only file that uploads an Azure block blob while polars encodes it.

Blocks are staged in the background as the encoder fills them (so encoding and upload overlap),
and the blob changes only in ``commit()``, one Put Block List after every block arrived. A
writer that fails or is killed never commits: the previous version stays, and the staged
blocks are discarded by Azure. ``with`` does not commit on errors (unlike fsspec files).
"""

from __future__ import annotations

import base64
import io
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

BLOCK_SIZE = 8 * 2**20
IN_FLIGHT = 4


class BlockBlobWriter(io.RawIOBase):
    """``write()`` bytes, then ``commit()``; anything else leaves the blob as it was."""

    def __init__(
        self,
        blob_client: Any,
        block_size: int = BLOCK_SIZE,
        in_flight: int = IN_FLIGHT,
        **request_options: Any,
    ):
        super().__init__()
        self.client = blob_client
        self.block_size = block_size
        self.in_flight = in_flight
        self.options = request_options
        self.buffer = bytearray()
        self.position = 0
        self.block_ids: list[str] = []
        self.pending: list[Future] = []
        self.pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="polster-blocks")
        self.prefix = uuid.uuid4().hex

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def write(self, data: Any) -> int:
        size = len(data)
        self.buffer += data
        self.position += size
        while len(self.buffer) >= self.block_size:
            self._stage(bytes(self.buffer[: self.block_size]))
            del self.buffer[: self.block_size]
        return size

    def _stage(self, chunk: bytes) -> None:
        block_id = base64.b64encode(f"{self.prefix}-{len(self.block_ids):06d}".encode()).decode()
        self.block_ids.append(block_id)
        self.pending.append(
            self.pool.submit(self.client.stage_block, block_id, chunk, **self.options)
        )
        while len(self.pending) > self.in_flight:  # bound the memory held by queued blocks
            self.pending.pop(0).result()

    def commit(self) -> None:
        """Upload what is left and make the new version visible, all or nothing."""
        try:
            if not self.block_ids:
                self.client.upload_blob(bytes(self.buffer), overwrite=True, **self.options)
                return
            if self.buffer:
                self._stage(bytes(self.buffer))
            for future in self.pending:
                future.result()
            from azure.storage.blob import BlobBlock

            self.client.commit_block_list(
                [BlobBlock(block_id=block_id) for block_id in self.block_ids], **self.options
            )
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Stop without committing (the staged blocks expire on Azure's side)."""
        for future in self.pending:
            future.cancel()
        self.pending.clear()
        self.buffer.clear()
        self.pool.shutdown(wait=True)
        super().close()

    def close(self) -> None:
        if not self.closed:
            self.abandon()
