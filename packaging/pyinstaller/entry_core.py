"""Frozen entry point of `damer-core` (training, evaluation, prediction; the app's child process)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from damer_core.cli.main import main

    sys.exit(main())
