"""Recovery tests: `soak` marks the long kill soak (registered here until pyproject lists it)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "soak: long kill -9 soak of the recovery suite "
                                       "(deselect with -m 'not soak')")
