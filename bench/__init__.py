"""The benchmark harness: ``python -m bench full`` (``make bench``) and ``python -m bench quick``.

See docs/performance.md for what it measures, how, and the results.
"""
