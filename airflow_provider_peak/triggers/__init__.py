"""Peak triggers (they run in the triggerer)."""
