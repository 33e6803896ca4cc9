"""Small widgets and helpers every window uses (buttons, eliding labels)."""
