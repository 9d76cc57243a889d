"""The HTTP surfaces: request parsing, routes, streaming, and errors → responses."""
