"""``ringex serve``: build the process topology for the configured mode and supervise it.

With ``kafka.lease`` (scale-out takeover, ``docs/deployment.md``) the process first waits
until it holds the lease of its ``kafka.group_id`` (:mod:`ringex.kafka.lease`): an instance
and its standbys run the same settings, and only the holder creates rings and children. The
holder polls the lease on every supervision tick. If it loses the lease it SIGKILLs every
child at once (no drain, no last snapshot: its successor may already be matching) and exits
with 1. A clean stop leaves the group only after every child has finished, so the standby
starts from the final snapshot.
"""

from __future__ import annotations

import logging
import signal
import threading

from ringex.config import Settings
from ringex.runtime import preflight
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


def _acquire_lease(settings: Settings):
    """The held lease, or None if SIGTERM/SIGINT came first."""
    from ringex.kafka.lease import Lease, lease_group, lease_topic

    kafka = settings.kafka
    lease = Lease(kafka.bootstrap, lease_topic(kafka), lease_group(kafka),
                  session_ms=kafka.lease_session_ms)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        log.info("waiting for the lease of %s (orders partitions %s)", lease_group(kafka),
                 list(kafka.orders_partitions) or "all")
        if lease.acquire(should_stop=stop.is_set):
            log.info("holding the lease of %s: starting", lease_group(kafka))
            return lease
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    lease.close()
    return None


def _lease_lost(lease, supervisor: Supervisor, until):
    def check() -> bool:
        if not lease.poll(0):
            log.error("lease lost (%s): killing every child now", lease.lost_reason)
            supervisor.kill_children()
            return True
        return bool(until and until())
    return check


def serve(settings: Settings, *, until=None) -> int:
    lock = preflight.hold_var_dir(settings.runtime.var_dir)
    try:
        if settings.gateway.enabled:
            preflight.check_bind(settings.gateway.bind, "gateway.bind")
        if settings.runtime.metrics_port:
            preflight.check_bind(f"127.0.0.1:{settings.runtime.metrics_port}",
                                 "runtime.metrics_port")
        if not settings.embedded:
            preflight.check_services(settings)
        _compile_kernels(settings)
        return _serve(settings, until)
    finally:
        lock.close()


def _stop_on_sigterm(signum, _frame):
    raise SystemExit(128 + signum)


def _compile_kernels(settings: Settings) -> None:
    """Every kernel the children use, compiled (or loaded) here, once, before they start;
    meanwhile the gateway's address answers 503 with the stage."""
    from ringex.runtime.kernels import compile_kernels

    responder = None
    if settings.gateway.enabled:
        from ringex.runtime.starting import StartingResponder

        try:
            responder = StartingResponder(settings.gateway.bind,
                                          "engine starting: compiling kernels")
        except OSError as exc:  # the gateway will report the address itself
            log.warning("cannot answer on %s while starting: %s", settings.gateway.bind, exc)
    # SIGTERM now must still run the finally blocks that unlink the private segments.
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        compile_kernels(settings, status=responder.set_detail if responder else None)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if responder is not None:
            responder.close()


def _serve(settings: Settings, until) -> int:
    if not settings.embedded:
        from ringex.runtime.kafka_processes import ensure_kafka_topics

        counts = ensure_kafka_topics(settings)
        owned = settings.kafka.orders_partitions
        if len(owned) > 1 or (not owned and counts[settings.kafka.orders_topic] > 1):
            log.warning("this engine reads %s orders partitions: after a crash its replay may "
                        "number events differently from those already published (docs/"
                        "recovery.md, Limits); own one partition per instance",
                        len(owned) or counts[settings.kafka.orders_topic])
    lease = _acquire_lease(settings) if settings.kafka.lease else None
    if settings.kafka.lease and lease is None:
        return 0
    try:
        return _supervise(settings, lease, until)
    finally:
        if lease is not None:
            lease.close()


def _supervise(settings: Settings, lease, until) -> int:
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
    return supervisor.run(until=until if lease is None else _lease_lost(lease, supervisor, until))
