"""ensure_topics against the real broker: creates what is missing, leaves what exists."""

from __future__ import annotations

import pytest

from ringex.config import KafkaSettings
from ringex.kafka import ensure_topics, exchange_topics
from tests.support.services import delete_topics, unique_name

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(60)]


def test_ensure_topics_is_idempotent_and_keeps_existing_partition_counts(kafka_bootstrap,
                                                                         kafka_admin):
    names = [unique_name("ensure") for _ in range(2)]
    try:
        assert ensure_topics(kafka_bootstrap, {names[0]: 3}) == {names[0]: 3}
        # Again, plus a new one; the existing topic keeps its 3 partitions.
        assert ensure_topics(kafka_bootstrap, {names[0]: 5, names[1]: 2}) == {
            names[0]: 3, names[1]: 2}
        topics = kafka_admin.list_topics(timeout=10).topics
        assert len(topics[names[0]].partitions) == 3 and len(topics[names[1]].partitions) == 2
    finally:
        delete_topics(kafka_bootstrap, names)


def test_exchange_topics_names_come_from_settings():
    kafka = KafkaSettings(bootstrap="127.0.0.1:9092", orders_topic="o", dlq_topic="o.dlq",
                          trades_topic="t", events_topic="e", partitions=4)

    assert exchange_topics(kafka) == {"o": 4, "o.dlq": 4, "t": 4, "e": 4}
    assert exchange_topics(kafka, partitions=1) == {"o": 1, "o.dlq": 1, "t": 1, "e": 1}
