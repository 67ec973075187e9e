# Register the real-service fixtures (kafka_bootstrap, redis_url, ...) of
# tests/support/services.py.
pytest_plugins = ["tests.support.services"]
