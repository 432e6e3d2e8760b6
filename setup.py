"""The service depends on the SDK beside it in this checkout, so `pip install .` needs no index for it."""

from pathlib import Path

from setuptools import setup

SDK = (Path(__file__).resolve().parent / "sdk").as_uri()
DEPENDENCIES = [
    "flask>=3.0",
    "flask-sqlalchemy>=3.1",
    "sqlalchemy>=2.0",
    "marshmallow>=3.20",
    "flask-smorest>=0.44",
    "pyyaml>=6.0",
    "gunicorn>=23",
    "gevent>=24.10.1",  # gate serve's default worker class: a stream costs memory, not a thread
    "alembic>=1.13",
    "psycopg[binary]>=3.2",  # 3.2 waits cooperatively under gevent
    "prometheus-client>=0.20",
    "click>=8.1",
    "defusedxml>=0.7",  # CI reports: expat with DTDs and entities refused (gate/domain/reports.py)
    "swagger-ui-bundle>=1.1",
    "authlib>=1.6",  # sign-in through the identity provider: OpenID Connect code flow, PKCE, JWKS (gate/web/sso.py)
    "requests>=2.31",  # Authlib's HTTP client  # the API reference page, served from the package: no CDN
]

setup(install_requires=[f"gate-sdk @ {SDK}", *DEPENDENCIES])
