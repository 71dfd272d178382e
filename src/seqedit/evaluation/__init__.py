"""Edit metrics."""
