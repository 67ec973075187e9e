"""``ringex serve``: build the process topology for the configured mode and supervise it."""

from __future__ import annotations

import logging

from ringex.config import Settings
from ringex.runtime.supervisor import Child, Supervisor

__all__ = ["serve", "children_for"]

log = logging.getLogger("ringex.serve")


def children_for(supervisor: Supervisor) -> list[Child]:
    from ringex.runtime.engine_process import engine_main
    from ringex.runtime.marketdata_process import marketdata_main

    settings = supervisor.settings
    children = [
        Child("engine", engine_main, essential=True),
        Child("marketdata", marketdata_main),
    ]
    if supervisor.embedded:
        from ringex.runtime.journal import journal_main

        children.append(Child("journal", journal_main))
    else:
        from ringex.runtime.kafka_processes import bridge_main, kafka_publisher_main

        children.append(Child("kafka_publisher", kafka_publisher_main))
        for index in range(settings.kafka.bridges):
            children.append(Child(f"bridge-{index}", bridge_main, producer=True))
    if settings.gateway.enabled:
        try:
            from ringex.runtime.gateway_process import gateway_main
        except ImportError:
            log.warning("gateway not available in this build; serving without REST")
        else:
            children.append(Child("gateway", gateway_main, producer=True))
    return children


def _marketdata_segment(settings: Settings):
    def create(prefix: str):
        from ringex.marketdata.shm_store import SharedMemoryMarketData

        return SharedMemoryMarketData.create(settings.registry(), prefix=prefix)

    return create


def serve(settings: Settings, *, until=None) -> int:
    if not settings.embedded:
        from ringex.runtime.kafka_processes import ensure_kafka_topics

        ensure_kafka_topics(settings)
    supervisor = Supervisor(settings, children_for)
    supervisor.create_segments(_marketdata_segment(settings) if settings.embedded else None)
    log.info("mode: %s; rings: %s", "embedded" if settings.embedded else "distributed",
             supervisor.names)
    if settings.runtime.metrics_port:
        from ringex.runtime.metrics import prepare_multiprocess_dir, start_metrics_server

        prepare_multiprocess_dir(settings.runtime.var_dir)
        start_metrics_server(settings.runtime.metrics_port, supervisor)
        log.info("metrics on http://127.0.0.1:%d/metrics", settings.runtime.metrics_port)
    supervisor.start()
    return supervisor.run(until=until)
