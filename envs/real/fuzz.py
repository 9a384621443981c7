"""Malformed, truncated, oversized, unsigned, mis-signed and random robot messages, for fuzzing a server.

Every message :func:`fuzz_messages` yields is first checked to be refused by the protocol itself,
so pointing it at a server (tests/test_real_network.py, scripts/experiments/real_robot.py) may
never move a robot. Messages whose signature is valid use ``key``, so the schema checks behind
the signature are exercised too.
"""

import json
import random
from collections.abc import Iterator

import numpy as np

from envs.real.errors import MessageError
from envs.real.messages import REQUEST_LIMITS, Message, check_request, decode, encode, sign


def _act(key: bytes, seq: int) -> list[bytes]:
    return encode(Message("act", "ab" * 8, seq, {}, {"action": np.asarray((0.1, 0.2, 0.3), np.float32)}), key)


def _signed(key: bytes, header: bytes, *blobs: bytes) -> list[bytes]:
    return [sign(key, [header, *blobs]), header, *blobs]


def _header(rng: random.Random) -> dict:
    return {"v": 1, "type": "act", "session": "cd" * 8, "seq": rng.randrange(1, 1000), "body": {},
            "arrays": [{"key": "action", "dtype": "float32", "shape": [3]}]}


def _mutated_header(rng: random.Random, key: bytes) -> list[bytes]:
    """A signed act whose header breaks the schema in one random way."""
    h = _header(rng)
    blob = np.zeros(3, np.float32).tobytes()
    choice = rng.randrange(12)
    if choice == 0:
        h["v"] = rng.choice([0, 2, "1", None, 1.0, True])
    elif choice == 1:
        h["type"] = rng.choice(["", "ACT", "shutdown", "act ", 7, None])
    elif choice == 2:
        h["seq"] = rng.choice([-1, "3", 2**60, 1.5, None, True])
    elif choice == 3:
        h["session"] = rng.choice(["", "xyz", "AB" * 8, "a" * 65, 5])
    elif choice == 4:
        h["arrays"][0]["dtype"] = rng.choice(["object", "O", "float16", "<f4", "complex64", ""])
    elif choice == 5:
        h["arrays"][0]["shape"] = rng.choice([[4], [3, 1, 1, 1, 1], [-3], ["3"], [2**40], 3])
    elif choice == 6:
        h["body"] = rng.choice([{"seed": 1}, [], "x", {"action": [0.1, 0.2, 0.3]}])
    elif choice == 7:
        h["extra"] = 1
    elif choice == 8:
        h["arrays"] = []  # an act without its action
        return _signed(key, json.dumps(h).encode())
    elif choice == 9:
        h["arrays"][0]["key"] = rng.choice(["", "x" * 80, "act ion", "../etc", 3])
    elif choice == 10:
        h["type"], h["body"], h["arrays"] = "reset", {"seed": rng.choice(["1", 1.5, -1, 2**64, [1]])}, []
        return _signed(key, json.dumps(h).encode())
    else:
        del h[rng.choice(sorted(h))]
    return _signed(key, json.dumps(h).encode(), blob)


def fuzz_messages(n: int, key: bytes, seed: int = 0) -> Iterator[list[bytes]]:
    """``n`` malformed, truncated, oversized, unsigned, mis-signed or random messages.

    Every one is checked locally to be refused by the protocol, so none may ever reach a robot.
    """
    rng = random.Random(seed)
    for i in range(n):
        kind = i % 10
        if kind == 0:  # random frames
            frames = [rng.randbytes(rng.randrange(0, 300)) for _ in range(rng.randrange(1, 6))]
        elif kind == 1:  # a valid act truncated somewhere
            frames = _act(key, rng.randrange(1, 1000))
            f = rng.randrange(len(frames))
            frames[f] = frames[f][: rng.randrange(len(frames[f]))]
        elif kind == 2:  # a valid act with one byte flipped (the signature no longer matches)
            frames = _act(key, rng.randrange(1, 1000))
            f = rng.randrange(len(frames))
            b = bytearray(frames[f])
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            frames[f] = bytes(b)
        elif kind == 3:  # oversized (above the request cap, below ZeroMQ's hard limit)
            frames = _act(key, 1)[:2] + [rng.randbytes(16) * (REQUEST_LIMITS.max_message_bytes // 16 + 1)]
        elif kind == 4:  # a valid act signed with the wrong token
            frames = _act(b"wrong-token-0123456789", rng.randrange(1, 1000))
        elif kind == 5:  # signed, but not JSON (or not UTF-8, or nested beyond reason)
            frames = _signed(key, rng.choice([rng.randbytes(40), b"{", b"\xff\xfe", b"[" * 5000, b"NaN",
                                         b'{"v": NaN}', b"", b"null"]))
        elif kind == 6:  # signed, schema broken
            frames = _mutated_header(rng, key)
        elif kind == 7:  # signed, the array frame truncated or padded
            h = json.dumps(_header(rng)).encode()
            frames = _signed(key, h, rng.randbytes(rng.choice([0, 4, 11, 13, 24])))
        elif kind == 8:  # too many or too few frames
            frames = _act(key, rng.randrange(1, 1000))
            frames = frames[:1] if rng.random() < 0.5 else frames + [b"x"] * rng.randrange(40, 60)
        else:  # signed, an unknown request type or a request without its array
            h = _header(rng)
            h["type"], h["arrays"] = rng.choice(["shutdown", "exec", "act"]), []
            frames = _signed(key, json.dumps(h).encode())
        _assert_refused(frames, key)
        yield frames


def _assert_refused(frames: list[bytes], key: bytes) -> None:
    try:
        check_request(decode(frames, key, REQUEST_LIMITS))
    except MessageError:
        return
    raise MessageError("fuzzer", f"the fuzzer made a valid request, which it must never do: {frames[:2]!r}")
