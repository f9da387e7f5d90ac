"""Reading uploaded files with the configured size limit (413 past it), for every surface."""

from fastapi import UploadFile

from lockgate.errors import AppError


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """At most `limit` bytes are read: a larger file is refused without being held in memory."""
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"file: larger than the {limit} bytes allowed.", param="file")
    return data
