"""Root pytest configuration: headless matplotlib for tests and docstring examples alike."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
