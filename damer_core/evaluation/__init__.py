"""Scoring and choosing models: a model of any kind on a labelled data set (``evaluate``), the
linear-probe baseline, grouped cross-validation, the comparison of candidates (``selection``) and
the build of a model from a recipe (``build``)."""
