"""A real OpenID Connect provider for the sign-in tests: panva's certified oidc-provider (tests/oidc, installed
by `npm ci` from its committed lock file), run by Node on loopback, and a person who signs in at it."""

from __future__ import annotations

import html
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

FOLDER = Path(__file__).resolve().parent / "oidc"
CLIENT_ID, CLIENT_SECRET = "gate", "a-client-secret-for-tests-only"
ROLE_MAP = "gate-qa=qa,gate-release=release,gate-admins=admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed() -> None:
    """npm ci from the lock file, once (.ci/run does it first; a test run on a new checkout does it here)."""
    if (FOLDER / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("no Node.js: the identity-provider tests need node and npm")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FOLDER, check=True, capture_output=True, timeout=300)


class IdentityProvider:
    """oidc-provider with clients for `redirect_uris`; the people are in tests/oidc/provider.mjs."""

    def __init__(self, redirect_uris: list[str], port: int | None = None) -> None:
        ensure_installed()
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.redirect_uris = redirect_uris
        self.process: subprocess.Popen[bytes] | None = None

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Gate's settings for this provider."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_ROLE_MAP": ROLE_MAP,
            **extra,
        }

    def environment(self, **extra: Any) -> dict[str, str]:
        """The same, as `gate serve` reads them."""
        return {f"GATE_{name}": str(value) for name, value in self.settings(**extra).items()}

    def start(self) -> IdentityProvider:
        clients = [
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": self.redirect_uris},
            {"client_id": "another-client", "client_secret": "another-secret", "redirect_uris": self.redirect_uris},
        ]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the provider runs; stop() closes it
        self.process = subprocess.Popen(
            ["node", "provider.mjs", str(self.port), json.dumps(clients)],
            cwd=FOLDER,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.log.seek(0)
        said = self.log.read().decode(errors="replace")
        self.stop()
        raise RuntimeError(f"oidc-provider did not start: {said}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
            self.log.close()

    def control(self, what: str, **body: Any) -> dict[str, Any]:
        answer = requests.post(f"{self.issuer}/_test/{what}", json=body, timeout=5)
        answer.raise_for_status()
        return dict(answer.json())

    def tamper(self, mode: str) -> None:
        """Have the token endpoint sign its ID tokens again: audience, audience+azp, expired, stranger, none."""
        self.control("tamper", mode=mode)

    def stats(self) -> dict[str, int]:
        return dict(requests.get(f"{self.issuer}/_test/stats", timeout=5).json())

    def authorize(self, url: str, login: str) -> str:
        """A person at the provider: follow `url` (Gate's redirect to it), sign in as `login` with any
        password, consent; return where the provider sends the browser back (Gate's callback with code
        and state)."""
        browser = requests.Session()
        answer = browser.get(url, allow_redirects=False, timeout=10)
        for _ in range(12):
            if answer.is_redirect:
                target = urljoin(answer.url, answer.headers["Location"])
                if not target.startswith(self.issuer):
                    return target
                answer = browser.get(target, allow_redirects=False, timeout=10)
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', answer.text)
            prompt = re.search(r'name="prompt" value="(\w+)"', answer.text)
            assert form and prompt, f"{answer.status_code}: {answer.text[:600]}"
            data = {"prompt": prompt.group(1), "login": login, "password": "any"}
            action = urljoin(answer.url, html.unescape(form.group(1)))
            answer = browser.post(action, data=data, allow_redirects=False, timeout=10)
        raise AssertionError("the provider never sent the browser back")
