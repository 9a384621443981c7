"""The robot wire protocol: versioned, schema-checked, signed multipart messages (no pickle).

A message is ZeroMQ frames ``[signature, header, array_0, array_1, ...]``:

- ``header``: UTF-8 JSON ``{"v", "type", "session", "seq", "body", "arrays"}``; ``arrays`` lists
  ``{"key", "dtype", "shape"}`` for each following frame, which holds that array's raw bytes
  (C order, little-endian native numpy dtypes from an allowlist: never objects).
- ``signature``: HMAC-SHA256 under the shared-secret token of every other frame (each prefixed
  with its length), compared with ``hmac.compare_digest``. The token itself never travels.

:func:`decode` checks, in order: frame count, total size, signature, header JSON, envelope,
arrays; the first failure raises :class:`MessageError` with a ``code`` and a reason.
"""

import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.errors import ConfigError
from envs.real.errors import MessageError
from envs.real.features import DTYPES

VERSION = 1
SIGNATURE_BYTES = 32
_CONTEXT = b"roboloop-robot"
_SESSION = re.compile(r"^[0-9a-f]{8,64}$")
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_SEQ = 2**53
MIN_TOKEN_CHARS = 16
TOKEN_ENV = "ROBOLOOP_ROBOT_TOKEN"

# type -> (body fields and their allowed types, required array keys): every field required, no others.
REQUESTS: dict[str, tuple[dict[str, tuple[type, ...]], tuple[str, ...]]] = {
    "hello": ({}, ()),
    "observe": ({}, ()),
    "act": ({}, ("action",)),
    "reset": ({"seed": (int, type(None))}, ()),
    "estop": ({"reason": (str,)}, ()),
    "estop_reset": ({}, ()),
    "torque_off": ({}, ()),
    "ping": ({}, ()),
    "bye": ({}, ()),
}
REPLIES = ("reply", "error")


@dataclass(frozen=True)
class Limits:
    """Size caps a receiver enforces before it parses anything."""

    max_message_bytes: int = 1 << 20  # all frames together
    max_header_bytes: int = 64 << 10
    max_arrays: int = 32
    max_ndim: int = 4


REQUEST_LIMITS = Limits()  # commands are small: 1 MiB is far above any action
REPLY_LIMITS = Limits(max_message_bytes=256 << 20)  # observations may carry many camera images


@dataclass
class Message:
    """A decoded message: its type, who sent it (session, seq), a JSON body and named arrays."""

    type: str
    session: str
    seq: int
    body: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def resolve_token(token: str | None, token_env: str = TOKEN_ENV) -> bytes:
    """The shared secret: ``token`` if given, else the environment variable ``token_env``."""
    value = token if token is not None else os.environ.get(token_env)
    if not value:
        raise ConfigError(f"no robot token: set the environment variable {token_env} on the server and the "
                          "client to the same secret, e.g. `export "
                          f"{token_env}=$(python -c 'import secrets; print(secrets.token_hex(16))')`")
    if len(value) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the robot token has {len(value)} characters; use at least {MIN_TOKEN_CHARS} "
                          "random ones (secrets.token_hex(16) gives 32)")
    return value.encode()


def sign(key: bytes, frames: list[bytes]) -> bytes:
    """HMAC-SHA256 of the length-prefixed frames."""
    mac = hmac.new(key, _CONTEXT, hashlib.sha256)
    for frame in frames:
        mac.update(len(frame).to_bytes(8, "big"))
        mac.update(frame)
    return mac.digest()


def encode(message: Message, key: bytes) -> list[bytes]:
    """Frames for ``message``: signature, header, one frame per array."""
    specs, blobs = [], []
    for name, value in message.arrays.items():
        arr = np.ascontiguousarray(value)
        if arr.dtype.name not in DTYPES:
            raise MessageError("bad_array", f"array {name!r} has dtype {arr.dtype}; allowed: {list(DTYPES)}")
        specs.append({"key": name, "dtype": arr.dtype.name, "shape": list(arr.shape)})
        blobs.append(arr.tobytes())
    header = {"v": VERSION, "type": message.type, "session": message.session, "seq": message.seq,
              "body": message.body, "arrays": specs}
    try:
        head = json.dumps(header, separators=(",", ":"), default=_plain, allow_nan=False).encode()
    except ValueError as e:  # NaN or inf in a body (MessageError is a ValueError too)
        raise MessageError("bad_body", f"message body is not plain JSON: {e}") from e
    frames = [head, *blobs]
    return [sign(key, frames), *frames]


def decode(frames: list[bytes], key: bytes, limits: Limits = REQUEST_LIMITS) -> Message:
    """A verified message from ``frames``, or :class:`MessageError` naming what is wrong."""
    if not 2 <= len(frames) <= 2 + limits.max_arrays:
        raise MessageError("bad_frames", f"expected 2 to {2 + limits.max_arrays} frames (signature, header, "
                                         f"arrays), got {len(frames)}")
    size = sum(len(f) for f in frames)
    if size > limits.max_message_bytes:
        raise MessageError("oversized", f"message of {size} bytes exceeds the cap of "
                                        f"{limits.max_message_bytes} bytes")
    signature, head, blobs = frames[0], frames[1], frames[2:]
    if len(signature) != SIGNATURE_BYTES or not hmac.compare_digest(signature, sign(key, frames[1:])):
        raise MessageError("bad_signature", "the signature does not match this server's token (wrong token, "
                                            "or the message was altered)")
    if len(head) > limits.max_header_bytes:
        raise MessageError("oversized", f"header of {len(head)} bytes exceeds {limits.max_header_bytes}")
    try:
        header = json.loads(head.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise MessageError("bad_json", f"header is not UTF-8 JSON: {str(e)[:120]}") from None
    message = _envelope(header)
    message.arrays = _arrays(header["arrays"], blobs, limits)
    return message


def check_request(message: Message) -> Message:
    """``message`` if it is a known request with exactly its schema's fields, else MessageError."""
    if message.type not in REQUESTS:
        raise MessageError("unknown_type", f"type {message.type!r} is not a request; valid: "
                                           f"{sorted(REQUESTS)}")
    fields, arrays = REQUESTS[message.type]
    if set(message.body) != set(fields):
        raise MessageError("bad_schema", f"{message.type!r} body needs exactly {sorted(fields)}, got "
                                         f"{sorted(message.body)[:8]}")
    for name, types in fields.items():
        value = message.body[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise MessageError("bad_schema", f"{message.type}.{name} must be {[t.__name__ for t in types]}, "
                                             f"got {type(value).__name__}")
    if set(message.arrays) != set(arrays):
        raise MessageError("bad_schema", f"{message.type!r} needs arrays {list(arrays)}, got "
                                         f"{sorted(message.arrays)}")
    if message.type == "reset" and message.body["seed"] is not None and not 0 <= message.body["seed"] < 2**63:
        raise MessageError("bad_schema", f"reset.seed must be in [0, 2**63), got {message.body['seed']}")
    return message


def error_reply(request: Message | None, code: str, reason: str) -> Message:
    """The reply to a refused request (session and seq zero if the request could not be read)."""
    session, seq = (request.session, request.seq) if request is not None else ("0" * 8, 0)
    return Message("error", session, seq, {"code": code, "reason": reason[:500]})


def _envelope(header: Any) -> Message:
    if not isinstance(header, dict):
        raise MessageError("bad_schema", f"header must be a JSON object, got {type(header).__name__}")
    expected = {"v", "type", "session", "seq", "body", "arrays"}
    if set(header) != expected:
        raise MessageError("bad_schema", f"header needs exactly {sorted(expected)}, got "
                                         f"{sorted(header)[:10]}")
    v = header["v"]
    if not isinstance(v, int) or isinstance(v, bool) or v != VERSION:
        raise MessageError("bad_version", f"protocol version {v!r} is not supported; this side speaks "
                                          f"{VERSION}: run the same roboloop version on both machines")
    kind, session, seq = header["type"], header["session"], header["seq"]
    if not isinstance(kind, str) or not isinstance(session, str) or not _SESSION.match(session):
        raise MessageError("bad_schema", "type must be a string and session 8-64 lowercase hex characters")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < MAX_SEQ:
        raise MessageError("bad_schema", f"seq must be an integer in [0, 2**53), got {seq!r}")
    if not isinstance(header["body"], dict) or not isinstance(header["arrays"], list):
        raise MessageError("bad_schema", "body must be an object and arrays a list")
    return Message(kind, session, seq, header["body"])


def _arrays(specs: list[Any], blobs: list[bytes], limits: Limits) -> dict[str, np.ndarray]:
    if len(specs) != len(blobs):
        raise MessageError("bad_array", f"header lists {len(specs)} arrays but {len(blobs)} array frames "
                                        "came")
    out: dict[str, np.ndarray] = {}
    for spec, blob in zip(specs, blobs, strict=True):
        if not isinstance(spec, dict) or set(spec) != {"key", "dtype", "shape"}:
            raise MessageError("bad_array", "each array spec needs exactly key, dtype, shape")
        name, dtype, shape = spec["key"], spec["dtype"], spec["shape"]
        if not isinstance(name, str) or not _KEY.match(name) or name in out:
            raise MessageError("bad_array", f"array key {str(name)[:70]!r} is not a unique 1-64 character "
                                            "name")
        if dtype not in DTYPES:
            raise MessageError("bad_array", f"array {name!r} dtype {str(dtype)[:20]!r}; allowed: "
                                            f"{list(DTYPES)}")
        if (not isinstance(shape, list) or len(shape) > limits.max_ndim
                or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in shape)):
            raise MessageError("bad_array", f"array {name!r} shape must be <= {limits.max_ndim} ints >= 0")
        itemsize = np.dtype(dtype).itemsize
        if int(np.prod(shape, dtype=np.float64)) * itemsize != len(blob):
            raise MessageError("bad_array", f"array {name!r} is {dtype}{shape} but its frame has {len(blob)} "
                                            "bytes (truncated or padded)")
        out[name] = np.frombuffer(blob, dtype=dtype).reshape(shape).copy()
    return out


def _no_constant(name: str) -> None:
    raise MessageError("bad_json", f"{name} is not valid JSON")


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and arrays in bodies (statuses, features)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise MessageError("bad_body", f"{type(value).__name__} is not JSON serializable; send numbers, "
                                   "strings, lists and dicts in bodies and numpy arrays as arrays")
