"""DAMER core: audio, features, model, training, data sets and inference. Never imports Qt.

Importing it changes nothing in ``os.environ``: numba's cache is set up where librosa is first
imported (:mod:`damer_core.features.numba_env`)."""

__version__ = "0.1.0"
