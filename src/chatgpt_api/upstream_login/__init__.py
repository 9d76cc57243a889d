"""Outbound login to the upstream: getting and caching ChatGPT access tokens.

* :mod:`.client` — email + password through the login service, or a session cookie through
  ``/api/auth/session``.
* :mod:`.token_cache` — ``/get_access_token`` results kept until shortly before they expire.

Inbound gateway API keys (who may call this service) are :mod:`chatgpt_api.keys`.
"""
