"""The wire protocol: versioned, signed, schema-checked messages; every refusal has a code and a reason."""

import json

import numpy as np
import pytest

from envs.errors import ConfigError
from envs.real.errors import MessageError
from envs.real.messages import (
    REPLY_LIMITS,
    REQUEST_LIMITS,
    Message,
    check_request,
    decode,
    encode,
    resolve_token,
    sign,
)
from tests.real_helpers import KEY, act_frames, fuzz_messages


def test_messages_round_trip_with_arrays_of_every_allowed_dtype() -> None:
    arrays = {"proprio": np.arange(4, dtype=np.float32), "top_rgb": np.zeros((4, 5, 3), np.uint8),
              "depth": np.ones((2, 2), np.float64), "ids": np.array([1, 2], np.int64),
              "flags": np.array([7], np.int32), "empty": np.zeros((0, 3), np.float32)}
    message = Message("reply", "ab" * 8, 7, {"status": {"reward": 1.5, "failure": None}}, arrays)
    back = decode(encode(message, KEY), KEY, REPLY_LIMITS)
    assert (back.type, back.session, back.seq, back.body) == ("reply", "ab" * 8, 7, message.body)
    for key, value in arrays.items():
        assert back.arrays[key].dtype == value.dtype
        np.testing.assert_array_equal(back.arrays[key], value)


def test_the_token_never_travels_and_signatures_bind_every_frame() -> None:
    frames = act_frames()
    assert not any(KEY in f for f in frames)
    check_request(decode(frames, KEY))
    with pytest.raises(MessageError, match="bad_signature"):
        decode(frames, b"another-token-0123456789")
    shifted = [frames[0], frames[1] + frames[2][:1], frames[2][1:]]  # moving bytes between frames
    with pytest.raises(MessageError, match="bad_signature"):
        decode(shifted, KEY)


def signed(header: dict | bytes, *blobs: bytes) -> list[bytes]:
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    return [sign(KEY, [head, *blobs]), head, *blobs]


def header(**changes) -> dict:
    h = {"v": 1, "type": "act", "session": "ab" * 8, "seq": 1, "body": {},
         "arrays": [{"key": "action", "dtype": "float32", "shape": [3]}]}
    return {**h, **changes}


BLOB = np.zeros(3, np.float32).tobytes()


@pytest.mark.parametrize("frames, code", [
    ([b"only one frame"], "bad_frames"),
    (act_frames() + [b""] * 40, "bad_frames"),
    (act_frames()[:2] + [b"\0" * (REQUEST_LIMITS.max_message_bytes + 1)], "oversized"),
    ([b"\0" * 32, b"{}"], "bad_signature"),
    (signed(b"{not json"), "bad_json"),
    (signed(b'{"v": NaN}'), "bad_json"),
    (signed(b"[" * 20000), "bad_json"),
    (signed(header(v=2), BLOB), "bad_version"),
    (signed(header(seq="1"), BLOB), "bad_schema"),
    (signed(header(extra=True), BLOB), "bad_schema"),
    (signed(header(), BLOB[:-1]), "bad_array"),
    (signed(header(arrays=[{"key": "action", "dtype": "object", "shape": [3]}]), BLOB), "bad_array"),
    (signed(header(type="shutdown", arrays=[])), "unknown_type"),
    (signed(header(arrays=[])), "bad_schema"),
    (signed(header(type="reset", body={"seed": "3"}, arrays=[])), "bad_schema"),
    (signed(header(type="reset", body={"seed": True}, arrays=[])), "bad_schema"),
])
def test_each_malformed_message_is_refused_with_a_code(frames, code) -> None:
    with pytest.raises(MessageError) as info:
        check_request(decode(frames, KEY))
    assert info.value.code == code and info.value.reason


def test_the_fuzzer_only_makes_messages_the_protocol_refuses() -> None:
    codes = set()
    for frames in fuzz_messages(500, seed=1):
        with pytest.raises(MessageError) as info:
            check_request(decode(frames, KEY))
        codes.add(info.value.code)
    assert {"bad_frames", "oversized", "bad_signature", "bad_json", "bad_schema", "bad_version",
            "bad_array", "unknown_type"} <= codes


def test_tokens_come_from_the_environment_and_must_be_long(monkeypatch) -> None:
    monkeypatch.delenv("ROBOLOOP_ROBOT_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="export ROBOLOOP_ROBOT_TOKEN"):
        resolve_token(None)
    monkeypatch.setenv("ROBOLOOP_ROBOT_TOKEN", "short")
    with pytest.raises(ConfigError, match="at least 16"):
        resolve_token(None)
    monkeypatch.setenv("ROBOLOOP_ROBOT_TOKEN", "x" * 32)
    assert resolve_token(None) == b"x" * 32


def test_bodies_must_be_plain_json() -> None:
    with pytest.raises(MessageError, match="bad_body"):
        encode(Message("reply", "ab" * 8, 1, {"reward": float("nan")}), KEY)
    with pytest.raises(MessageError, match="bad_body"):
        encode(Message("reply", "ab" * 8, 1, {"x": object()}), KEY)
