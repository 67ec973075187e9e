import sys
from pathlib import Path

# perf/ is not installed: the load tester runs from a source checkout
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
