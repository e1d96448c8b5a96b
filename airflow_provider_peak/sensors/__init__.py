"""Peak sensors."""
