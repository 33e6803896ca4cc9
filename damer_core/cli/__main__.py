"""``python -m damer_core.cli``: the same as the `damer-core` command."""

import sys

from damer_core.cli.main import main

if __name__ == "__main__":  # not when a tool walks the package
    sys.exit(main())
