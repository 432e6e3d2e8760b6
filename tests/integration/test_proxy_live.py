"""The shipped nginx configuration (deploy/nginx/gate.conf) in front of a real `gate serve`: TLS ends at
nginx, the SDK streams through it unbuffered, plain HTTP is redirected."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from gate_sdk import GateClient, Reason

from tests.integration.conftest import Served, free_port
from tests.support import ROOT, FeatureBuilder

pytestmark = pytest.mark.integration
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def proxy(served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    if not os.path.exists(NGINX):
        pytest.skip("nginx is not installed (.ci/run installs Debian's)")
    cert, key = tmp_path / "gate.crt", tmp_path / "gate.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    tls, plain = free_port(), free_port()
    site = (ROOT / "deploy" / "nginx" / "gate.conf").read_text()
    for shipped, here in (
        ("127.0.0.1:8000", served.url.removeprefix("http://")),
        ("listen 443 ssl;", f"listen 127.0.0.1:{tls} ssl;"),
        ("listen 80;", f"listen 127.0.0.1:{plain};"),
        ("/etc/ssl/gate.crt", str(cert)),
        ("/etc/ssl/gate.key", str(key)),
        ("gate.example.org", "localhost"),
    ):
        assert shipped in site, shipped
        site = site.replace(shipped, here)
    (tmp_path / "gate.conf").write_text(site)
    temp = "".join(
        f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        + "events { worker_connections 256; }\n"
        + f"http {{\naccess_log off;\n{temp}include {tmp_path}/gate.conf;\n}}\n"
    )
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")])
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the SDK's and requests' TLS trust this certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    url = f"https://localhost:{tls}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/healthz", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    try:
        yield url, f"http://127.0.0.1:{plain}"
    finally:
        process.terminate()
        process.wait(10)


def test_the_sdk_streams_through_nginx_and_tls(served: Served, proxy: tuple[str, str]) -> None:
    proxy_url = proxy[0]
    assert requests.get(proxy_url + "/healthz", timeout=5).status_code == 200
    admin = {"Authorization": f"Bearer {served.admin}"}
    assert requests.put(
        proxy_url + "/api/v1/features/checkout/criteria",
        json=FeatureBuilder("checkout").build(),
        headers=admin,
        timeout=5,
    ).ok
    with GateClient(proxy_url, served.token("fleet", "sdk"), poll_interval=60) as client:
        assert client.wait_until_ready(5)  # the first event came through at once: nothing buffered it
        assert requests.post(
            proxy_url + "/api/v1/features/checkout/kill", json={"reason": "through the proxy"}, headers=admin, timeout=5
        ).ok
        deadline = time.monotonic() + 3  # the poll is a minute away: only the stream can bring it this soon
        while time.monotonic() < deadline and client.evaluate("checkout", {"user": "u"}).reason != Reason.KILLED:
            time.sleep(0.02)
        assert client.evaluate("checkout", {"user": "u"}).reason == Reason.KILLED


def test_plain_http_is_redirected_to_tls(proxy: tuple[str, str]) -> None:
    tls, plain = proxy
    answer = requests.get(plain + "/api/v1/features", allow_redirects=False, timeout=5)
    assert answer.status_code == 301 and answer.headers["Location"].startswith("https://127.0.0.1")
    assert requests.get(tls + "/api/v1/features", timeout=5).status_code == 401  # through to Gate, which asks who
