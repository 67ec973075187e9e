"""The message marks a bridge sets in a command's ``_reserved`` byte (``docs/recovery.md``).

A Kafka message becomes one record (JSON) or many (a binary frame) with the same partition and
offset. The bridge marks the first record ``MESSAGE_START``, the last ``MESSAGE_END`` (one
record: both) and the others ``MESSAGE_MIDDLE``, so the engine can apply every message exactly
once although a restarted bridge may write it into the inbound ring again. A record with none
of the bits (not from a bridge) is applied unconditionally. Clients never set them: the
stateless record checks reject a frame record whose ``_reserved`` is not 0.
"""

MESSAGE_START = 1
MESSAGE_END = 2
MESSAGE_MIDDLE = 4
MESSAGE_BITS = 7

__all__ = ["MESSAGE_START", "MESSAGE_END", "MESSAGE_MIDDLE", "MESSAGE_BITS"]
