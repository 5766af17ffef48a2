"""The deterministic generator of the bundled synthetic corpus (a fixture, not product logic)."""
