"""``python -m chatgpt_api.cli``."""

from chatgpt_api.cli.main import main

main(prog_name="chatgpt-api")
