"""gunicorn settings of the ringex gateway.

``ringex serve`` runs ``gunicorn -c python:gateway.gunicorn_config 'gateway.app:get_app()'``
(see ``ringex/runtime/gateway_process.py``); it also works by hand with the same environment
(``GATEWAY_SETTINGS_FILE``, or the ``RINGEX_*`` variables of ``load_settings``).

The ring producer, the Kafka producer and the Redis connections are opened in ``post_fork``,
in each worker, never in the master: librdkafka is not fork-safe, and a ring producer slot
belongs to one process.
"""

import gunicorn.util

from ringex.config import settings_of_process

from gateway import problems, wiring

# The errors gunicorn answers before the app sees a request (414, 431, a malformed request
# line or chunk) are problem+json like every other error. Workers call util.write_error by
# module attribute, so replacing it here, in the master before the fork, covers them all.
assert callable(getattr(gunicorn.util, "write_error", None)), "gunicorn changed write_error"
gunicorn.util.write_error = problems.write_server_error

_settings = settings_of_process()

bind = [_settings.gateway.bind]
workers = _settings.gateway.workers
# A write answers only once it is durable (journal fsync, or Kafka acks=all), so a request
# mostly waits; gthread threads let one worker's requests wait for the same fsync (or ack)
# together, and more threads mean more requests per fsync (gateway.threads).
worker_class = _settings.gateway.worker_class
threads = _settings.gateway.threads
control_socket_disable = True  # gunicorn >= 25 would share $HOME/.gunicorn/gunicorn.ctl
keepalive = 5
timeout = 30
graceful_timeout = 3
# the gateway answers 413 itself; gunicorn's own limits only stop absurd request lines
limit_request_line = 8190
accesslog = None
errorlog = "-"
loglevel = _settings.runtime.log_level
proc_name = "ringex-gateway"


def post_fork(server, worker):
    dependencies = wiring.build_worker_dependencies(_settings)
    health = dependencies.order_sink.health()  # attaches now, so a problem shows at start-up
    if not health.get("ok"):
        server.log.warning("worker %s: sequencer not ready yet: %s", worker.pid, health)


def worker_exit(server, worker):
    wiring.close_worker_dependencies()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
