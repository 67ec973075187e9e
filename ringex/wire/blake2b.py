"""BLAKE2b-64 of a short client id, compiled, so the JSON kernel can hash string ids itself.

Why it exists: :func:`ringex.wire.ids.client_id_to_int` folds a string client id into int64
with ``hashlib.blake2b(digest_size=8, person=b"ringex.coid.v1")``. Called from Python per
message it cost ~1 us of the ~2 us a JSON order took to decode; this is the same function
(RFC 7693) for the one case the kernel needs: an unkeyed message of 1..64 bytes, so exactly
one compression of one zero-padded block. A Hypothesis test compares it with ``hashlib``.

``words`` is caller scratch of 32 uint64 (message words, then the working vector).
Allocates nothing.
"""

from __future__ import annotations

import numpy as np

from ringex.jit import njit
from ringex.wire.ids import MAX_CLIENT_ID_CHARS

__all__ = ["client_id_hash", "HASH_WORDS"]

HASH_WORDS = 32
_PERSON = b"ringex.coid.v1"  # must equal ringex.wire.ids._HASH_PERSON (tested)
_IV = np.array([
    0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
    0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
], dtype=np.uint64)
_SIGMA = np.array([
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
], dtype=np.int64)


def _initial_state() -> np.ndarray:
    """``IV xor parameter block``: digest 8 bytes, no key, fanout 1, depth 1, the person."""
    block = bytearray(64)
    block[0:4] = bytes((8, 0, 1, 1))
    block[48:48 + len(_PERSON)] = _PERSON
    return _IV ^ np.frombuffer(bytes(block), dtype="<u8").astype(np.uint64)


_H = _initial_state()
_M = 0  # words[0:16]: the message block
_V = 16  # words[16:32]: the working vector
_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_INT64_MAX = np.uint64(2**63 - 1)


@njit(inline="always")
def _rotate(value, bits):
    return (value >> np.uint64(bits)) | (value << np.uint64(64 - bits))


@njit(inline="always")
def _mix(words, a, b, c, d, x, y):
    v = _V
    words[v + a] = words[v + a] + words[v + b] + words[_M + x]
    words[v + d] = _rotate(words[v + d] ^ words[v + a], 32)
    words[v + c] = words[v + c] + words[v + d]
    words[v + b] = _rotate(words[v + b] ^ words[v + c], 24)
    words[v + a] = words[v + a] + words[v + b] + words[_M + y]
    words[v + d] = _rotate(words[v + d] ^ words[v + a], 16)
    words[v + c] = words[v + c] + words[v + d]
    words[v + b] = _rotate(words[v + b] ^ words[v + c], 63)


@njit
def client_id_hash(payload, start, end, words):
    """``client_id_to_int`` of the string ``payload[start:end]`` (1..64 bytes that are not a
    canonical integer): BLAKE2b-64 with the project's person, top bit cleared, 0 -> 1."""
    length = end - start
    for k in range(16):
        words[_M + k] = 0
    for k in range(length):
        word = k // 8
        words[_M + word] |= np.uint64(payload[start + k]) << np.uint64(8 * (k % 8))
    for k in range(8):
        words[_V + k] = _H[k]
        words[_V + 8 + k] = _IV[k]
    words[_V + 12] ^= np.uint64(length)
    words[_V + 14] ^= _ALL  # the last (only) block
    for round_ in range(12):
        r = round_ % 10
        _mix(words, 0, 4, 8, 12, _SIGMA[r, 0], _SIGMA[r, 1])
        _mix(words, 1, 5, 9, 13, _SIGMA[r, 2], _SIGMA[r, 3])
        _mix(words, 2, 6, 10, 14, _SIGMA[r, 4], _SIGMA[r, 5])
        _mix(words, 3, 7, 11, 15, _SIGMA[r, 6], _SIGMA[r, 7])
        _mix(words, 0, 5, 10, 15, _SIGMA[r, 8], _SIGMA[r, 9])
        _mix(words, 1, 6, 11, 12, _SIGMA[r, 10], _SIGMA[r, 11])
        _mix(words, 2, 7, 8, 13, _SIGMA[r, 12], _SIGMA[r, 13])
        _mix(words, 3, 4, 9, 14, _SIGMA[r, 14], _SIGMA[r, 15])
    digest = _H[0] ^ words[_V] ^ words[_V + 8]
    value = np.int64(digest & _INT64_MAX)
    return value if value != 0 else 1


assert MAX_CLIENT_ID_CHARS <= 128  # one block
