# Register the real-service fixtures (kafka_bootstrap, redis_url, ...) from tests/services.py.
pytest_plugins = ["tests.services"]
