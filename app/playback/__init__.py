"""Playing a track and showing it: the player, the transport bar, the Mel and cochleogram views."""
