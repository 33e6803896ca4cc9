"""Prediction with a loaded model of any kind: the predictor (``predictor``), the playing track's
first marker (``opening``), `damer-core predict`'s output (``predict``, ``sharded``) and the app's
analysis worker (``worker``). Never imports damer_core.training (an import-linter contract)."""
