"""Harnesses shared by more than one test folder: the real-service pytest plugin
(``services``), a real embedded exchange and HTTP helpers (``exchange``), a ``ringex serve``
tree with its recovery oracle (``recovery_harness``) and a paced Kafka producer
(``paced_producer``). A helper used by one folder stays in that folder."""
