"""The model's predictions for the library: the model in use, the job queue and its warm worker, the feature cache."""
