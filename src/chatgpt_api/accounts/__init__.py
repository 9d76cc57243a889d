"""Upstream ChatGPT accounts: records, encrypted secrets, tokens, the store repository, the pool."""
