"""Hash of a matcher's canonical state, shared by the compiled and the reference matcher.

Both matchers serialize their state to the same canonical int64 word array (layout in
``docs/matching.md``), so equal hashes mean equal books, whichever matcher produced them.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["hash_words", "ORDER_WORDS", "WINDOW_KEY_WORDS"]

#: Words per order in the canonical array.
ORDER_WORDS = 11
#: Words per done client-order-id key of the dedup window: ``account, client_order_id``.
WINDOW_KEY_WORDS = 2


def hash_words(words: np.ndarray) -> str:
    """Hex BLAKE2b-128 of ``words`` as little-endian int64."""
    canonical = np.ascontiguousarray(words, dtype="<i8")
    return hashlib.blake2b(canonical.tobytes(), digest_size=16).hexdigest()
