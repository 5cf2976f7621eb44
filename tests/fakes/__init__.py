"""Local stand-ins for external services (no real provider is reachable from the test machines)."""
