"""The `damer-core` command line: ``main`` runs a command, ``parser`` and ``options`` read its
arguments, ``selection`` holds `select` and `build`, ``reports`` the ``--json`` files."""
