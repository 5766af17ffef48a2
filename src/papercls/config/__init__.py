"""params.yaml: reading its sections, checking every key before any stage runs."""
