"""What a REST request body may be: its content type, its content coding, the binary tensor data extension.

- Content type: JSON, with or without the header. The protocol does not require a Content-Type, and
  the most common V2 client (Triton's `tritonclient`) sends none, so no header means JSON. A V2
  inference may also be `application/octet-stream`: the binary tensor data extension. Any other type
  is a 415 that says what to send.
- Content coding: `gzip` or `deflate` (tritonclient's `request_compression_algorithm`), inflated up to
  the body limit; anything else is a 415, as HTTP asks.
- Binary tensor data (Triton's and KServe's extension, V2 inference only): the header
  `Inference-Header-Content-Length: N` says the first N bytes are the JSON request; each input whose
  parameters carry `binary_data_size` takes that many of the remaining bytes, in input order, as its
  raw data (tensors.py). Every byte must belong to exactly one input.
"""

from __future__ import annotations

import zlib
from typing import Any

from services.model_server.codec import ClientError, decode_json
from services.model_server.tensors import from_raw

__all__ = ["HEADER_LENGTH", "check_content_type", "inflate", "binary_request"]

HEADER_LENGTH = b"inference-header-content-length"
_JSON, _BINARY = b"application/json", b"application/octet-stream"
_CODINGS = {b"gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS, b"x-gzip": 16 + zlib.MAX_WBITS}


def check_content_type(content_type: bytes | None, v2: bool, binary: bool) -> None:
    """None or JSON is JSON; octet-stream only for a V2 inference with binary tensors."""
    if content_type is None:
        return
    media = content_type.split(b";")[0].strip().lower()
    if media == _JSON or (media == _BINARY and v2 and binary):
        return
    got = media.decode("latin-1") or "an empty content type"
    if media == _BINARY:
        raise ClientError(
            415,
            "application/octet-stream is the binary tensor data extension: send it to /v2/models/{name}/infer "
            "with the Inference-Header-Content-Length header",
        )
    wanted = "application/json (or no Content-Type)"
    if v2:
        wanted += ", or application/octet-stream with Inference-Header-Content-Length"
    raise ClientError(415, f"send the body as {wanted} (got {got})")


def inflate(body: bytes, coding: bytes, limit: int) -> bytes:
    """The body without its content coding, refused past `limit` bytes (a small gzip can inflate to
    gigabytes)."""
    coding = coding.strip().lower()
    if coding in (b"", b"identity"):
        return body
    wbits = _CODINGS.get(coding)
    if wbits is None:
        raise ClientError(
            415, f"Content-Encoding {coding.decode('latin-1')!r} is not supported; use gzip, deflate or none"
        )
    inflater = zlib.decompressobj(wbits)
    try:
        plain = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ClientError(400, f"the {coding.decode()} body does not inflate: {exc}") from None
    if len(plain) > limit or inflater.unconsumed_tail:
        raise ClientError(413, f"the body inflates past the {limit}-byte limit")
    if not inflater.eof:
        raise ClientError(400, f"the {coding.decode()} body is cut off")
    return plain


def binary_request(body: bytes, header_length: bytes) -> dict[str, Any]:
    """The V2 request of a binary-extension body: its JSON header, each binary input's bytes as its data."""
    try:
        length = int(header_length)
    except ValueError:
        length = -1
    if not 0 <= length <= len(body):
        raise ClientError(
            400,
            f"Inference-Header-Content-Length {header_length.decode('latin-1')!r} must be the JSON header's size "
            f"in bytes, at most the body's {len(body)}",
            "Inference-Header-Content-Length",
        )
    document = decode_json(body[:length])
    tail = memoryview(body)[length:]
    inputs = document.get("inputs") if isinstance(document, dict) else None
    offset = 0
    for index, tensor in enumerate(inputs if isinstance(inputs, list) else []):
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        if not isinstance(parameters, dict) or "binary_data_size" not in parameters:
            continue
        where = f"inputs[{index}]"
        size = parameters["binary_data_size"]
        if type(size) is not int or size < 0:
            raise ClientError(400, f"{where}.parameters.binary_data_size must be a byte count", where)
        if "data" in tensor:
            raise ClientError(400, f"{where} has both data and binary_data_size: give one", where)
        if offset + size > len(tail):
            raise ClientError(
                400, f"{where}: binary_data_size {size} runs past the {len(tail)} bytes after the JSON header", where
            )
        tensor["data"] = from_raw(tail[offset : offset + size], str(tensor.get("datatype")), where)
        offset += size
    if offset != len(tail):
        raise ClientError(
            400,
            f"{len(tail)} bytes follow the JSON header, but the inputs' binary_data_size add up to {offset}",
            "Inference-Header-Content-Length",
        )
    return document
