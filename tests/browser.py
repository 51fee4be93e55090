"""Helpers for the real-browser tests: Debian's Chromium (installed on demand) driven by Playwright's Python package."""
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = '/usr/bin/chromium'
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
         '--no-first-run', '--disable-component-update', '--disable-sync']
ARTIFACTS = Path(__file__).resolve().parent.parent / 'runs' / 'browser'


def need_chromium():
    """Chromium's path, installing Debian's package when missing; skip with a clear message where that is impossible."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() == 0 and shutil.which('apt-get'):
            try:
                subprocess.run(['apt-get', 'update', '-qq'], capture_output=True, timeout=300)
                subprocess.run(['apt-get', 'install', '-y', '-qq', 'chromium'], capture_output=True, timeout=900,
                               env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
            except (subprocess.TimeoutExpired, OSError):
                pass
        if not Path(CHROMIUM).exists():
            pytest.skip("Debian's chromium is not installed and could not be installed here "
                        "(run `apt-get install chromium` as root); browser test skipped.")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright's Python package is missing: `pip install playwright` (no browser download needed).")
    return CHROMIUM


def browser(p):
    return p.chromium.launch(executable_path=need_chromium(), args=FLAGS, headless=True)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_http(url, timeout=90, proc=None):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f'server exited with {proc.returncode}')
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except Exception:
            time.sleep(0.5)
    raise TimeoutError(f'{url} did not answer within {timeout}s')
