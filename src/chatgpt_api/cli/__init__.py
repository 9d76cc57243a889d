"""The ``chatgpt-api`` command line."""
