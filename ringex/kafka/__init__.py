"""The Kafka edges: topics, the `orders` bridge and the `trades` / `order-events` publisher.

::

    Kafka `orders` ──► bridge(s) ──write──► [inbound ring] ──► engine ──► [outbound ring]
          │ malformed: copy                                                   │ slot k
          ▼                                                                   ▼
    `orders.dlq`                                    kafka publisher ──► `order-events`, `trades`

Modules: ``admin`` (create topics), ``clients`` (librdkafka configs, which settings are read),
``decode`` (one message -> records, the format rule), ``dlq`` (dead-letter copies),
``offsets`` (where the bridge starts, what it commits), ``bridge``, ``partitioning``,
``resume`` (the resume rule), ``reading`` (whole-topic reads), ``catchup`` (a seq range read
back by binary search on offsets), ``publisher`` (transactional),
``metrics``. See ``docs/kafka.md``.

Entry points are meant to run in their own processes; they create their Kafka clients on
entry (never before a fork). Importing this package does not import confluent-kafka.
"""

from ringex.kafka.admin import ensure_topics, exchange_topics
from ringex.kafka.bridge import BridgeStats, run_bridge
from ringex.kafka.catchup import CatchupStats, read_events_between
from ringex.kafka.metrics import KafkaMetrics
from ringex.kafka.offsets import PER_RUN_GROUP, REPLAY, OffsetPolicy
from ringex.kafka.publisher import PublisherStats, run_kafka_publisher
from ringex.kafka.resume import read_resume_seqs

__all__ = [
    "ensure_topics",
    "exchange_topics",
    "run_bridge",
    "BridgeStats",
    "run_kafka_publisher",
    "PublisherStats",
    "read_resume_seqs",
    "read_events_between",
    "CatchupStats",
    "OffsetPolicy",
    "REPLAY",
    "PER_RUN_GROUP",
    "KafkaMetrics",
]
