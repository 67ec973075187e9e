#!/usr/bin/env bash
# Numba's on-disk cache is keyed on each function's own source file, so edits to an inlined
# callee in another module go unnoticed. Run this after editing compiled code.
set -euo pipefail
cd "$(dirname "$0")/.."
find ringex perf tests -name '*.nbi' -delete -o -name '*.nbc' -delete -o -name '*.nbi.lock' -delete -o -name '*.nbi.compile.lock' -delete
