"""chatgpt-api: a small, dependable HTTP API to chat models.

A drop-in replacement for the Node service ``zhuweiyou/chatgpt-api`` (``POST /send_message``,
``POST /get_access_token``) with its bugs fixed, built around one ``Backend.stream_chat()`` seam.
"""

__version__ = "0.1.0"
