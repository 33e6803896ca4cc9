"""Features from audio: the Mel spectrogram and cochleogram of every preset (``spectra``), the
musical descriptors, the extraction of every kind a model or view needs (``extract``) through the
feature cache, and where numba keeps librosa's compiled code."""
