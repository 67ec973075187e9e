"""Recovery tests. The `soak` marker (pyproject) marks the long kill soak, which the default
run deselects; run it with `scripts/test.sh -m soak tests/recovery`."""
