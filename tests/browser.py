"""Headless Chromium for the browser tests: find it, install it where that is possible, launch it.

The tests drive Debian's ``chromium`` package with Playwright for Python (``playwright`` in the
dev extra; its own browser downloads are never used). When ``/usr/bin/chromium`` is missing and
the tests run as root on a Debian-like system, the session installs it with apt-get first, so a
fresh CI machine needs no extra step. Otherwise the browser tests are skipped with a message
saying what to install — except under ``CI=true``, where a missing browser fails the run
(:func:`tests.services.unavailable`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

from tests import services

CHROMIUM = Path(os.environ.get("CHATGPT_API_CHROMIUM", "/usr/bin/chromium"))

#: What this machine needs: no sandbox as root, no GPU, and no calls home (the network is closed
#: here; without these flags Chromium keeps trying to reach Google's hosts).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

INSTALL_TIMEOUT = 900
LOCK_TIMEOUT = 300


def unavailable(message: str) -> NoReturn:
    """Skip on a developer machine; fail in CI, where the browser tests must run."""
    services.unavailable("Chromium", message)


def _install_with_apt() -> str | None:
    """Install Debian's chromium; None on success, else why it failed."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Wait for another apt/dpkg run (a concurrent install) rather than fail on its lock.
    apt = ["apt-get", "-o", f"DPkg::Lock::Timeout={LOCK_TIMEOUT}"]
    for command in ([*apt, "update", "-qq"], [*apt, "install", "-y", "-qq", "chromium"]):
        try:
            done = subprocess.run(
                command,
                env=env,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(command)}` failed: {exc}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(command)}` exited with {done.returncode}: {' / '.join(tail)}"
    return None


def ensure_chromium() -> Path:
    """The Chromium binary, installed first if missing and possible."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get") and str(CHROMIUM) == "/usr/bin/chromium":
        problem = _install_with_apt()
        if problem is None and CHROMIUM.is_file():
            return CHROMIUM
        unavailable(f"Chromium is missing and installing it failed: {problem or 'no binary'}")
    unavailable(
        f"Chromium is not installed at {CHROMIUM}: install Debian's package "
        "(`sudo apt-get install chromium`) or set CHATGPT_API_CHROMIUM to a Chromium binary"
    )
