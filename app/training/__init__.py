"""Training and choosing models: the training panel, what it shows, the model registry."""
