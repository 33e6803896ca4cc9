"""What the app and the core share: event types, display arrays, trajectories, emotion words,
user paths, errors and dimensions. GUI-safe: importing any module here loads only the standard
library and numpy (tests/test_contract.py checks it), so the app's process never pulls in torch."""
