"""Frozen entry point of `damer-explorer` (the GUI; `--scan` runs the library scanner)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from app.main import main

    sys.exit(main())
