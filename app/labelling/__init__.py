"""Curator labels: the V-A circle, labelling while listening, label files, calibration sessions, the emotion map."""
