"""Sign-in through the company's identity provider (contract 8.4): OpenID Connect's authorization code flow
with PKCE (S256), `state` and `nonce`, by Authlib. The provider is found by discovery, tried again while it is
away; an ID token signed with a key the JWKS does not hold fetches the JWKS again, at most once a minute.
A person signs in with their identity (email, else preferred_username, else sub) and the roles their groups
map to; any failure signs nobody in and answers a page in words, never a 5xx."""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

from flask import Flask, current_app, url_for

from gate.config import SignOn
from gate.domain.roles import PERSON_LENGTH, is_name, mapped_roles
from gate.errors import NotFound

log = logging.getLogger("gate.sso")
KEY = "gate.sso"
CALLBACK = "/auth/oidc/callback"
SCOPES = "openid email profile"
RETRY_SECONDS = 30.0  # while the provider is away, discovery is tried again this often
JWKS_REFETCH_SECONDS = 60.0  # an unknown key fetches the JWKS again at most this often
LEEWAY_SECONDS = 60  # clock skew allowed on exp and iat
HTTP_TIMEOUT = 5.0


class SignInFailed(Exception):
    """The provider's answer signs nobody in; the message says why, in words."""


@functools.cache
def _oauth() -> Any:
    """Authlib's Flask registry, with a client that follows no redirect and fetches the JWKS again for an
    unknown key at most once a minute (a flood of forged key ids never turns into a flood of fetches).
    Imported on first use: a Gate without an identity provider never loads Authlib."""
    from authlib.integrations.flask_client import FlaskOAuth2App, OAuth

    class ProviderClient(FlaskOAuth2App):  # type: ignore[misc]  # Authlib ships no types
        clock = staticmethod(time.monotonic)
        _refetched_at: float | None = None

        def fetch_jwk_set(self, force: bool = False) -> Any:
            if force and "jwks" in self.server_metadata:
                at = self.clock()
                if self._refetched_at is not None and at - self._refetched_at < JWKS_REFETCH_SECONDS:
                    return self.server_metadata["jwks"]  # the key stays unknown: this sign-in fails
                self._refetched_at = at
            return super().fetch_jwk_set(force)

        def _get_session(self) -> Any:
            session = super()._get_session()
            session.max_redirects = 0
            return session

        def _get_oauth_client(self, **metadata: Any) -> Any:
            session = super()._get_oauth_client(**metadata)
            session.max_redirects = 0
            return session

    class ProviderOAuth(OAuth):  # type: ignore[misc]
        oauth2_client_cls = ProviderClient

    return ProviderOAuth


class IdentityProvider:
    """The identity provider of one worker's app: discovery kept, retried in the background while it fails."""

    def __init__(self, app: Flask, settings: SignOn) -> None:
        self.settings = settings
        self.client: Any = _oauth()(app).register(
            "idp",
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPES, "code_challenge_method": "S256", "default_timeout": HTTP_TIMEOUT},
        )
        self._lock = threading.Lock()
        self._tried = self._trying = self._failed = False
        self._next_try = 0.0

    def ready(self) -> bool:
        """Whether sign-in can start now. The first call looks the provider up at once; while it is away, a
        background try at most every RETRY_SECONDS, and the sign-in page offers tokens only."""
        if "_loaded_at" in self.client.server_metadata:
            return True
        with self._lock:
            if self._trying or time.monotonic() < self._next_try:
                return False
            first, self._tried, self._trying = not self._tried, True, True
        if first:
            self._discover()
        else:
            threading.Thread(target=self._discover, name="gate-sso-discovery", daemon=True).start()
        return "_loaded_at" in self.client.server_metadata

    def _discover(self) -> None:
        try:
            metadata = self.client.load_server_metadata()
            if metadata.get("issuer") != self.settings.issuer:
                self.client.server_metadata.clear()
                raise ValueError(f"its discovery names the issuer {metadata.get('issuer')!r}")
        except (_errors().http, ValueError) as exc:
            log.debug(
                "the identity provider %s cannot be found (%s); trying again in %.0f s",
                self.settings.issuer,
                exc,
                RETRY_SECONDS,
            )
            self._failed, self._next_try = True, time.monotonic() + RETRY_SECONDS
        else:
            if self._failed:
                log.info("single sign-on is available again: %s answers", self.settings.issuer)
        finally:
            self._trying = False

    def redirect_uri(self) -> str:
        base = current_app.config.get("BASE_URL")
        return f"{str(base).rstrip('/')}{CALLBACK}" if base else url_for("web.sso_callback", _external=True)

    def start(self) -> Any:
        """The redirect to the provider: a fresh state (kept in the browser's session), nonce and PKCE pair."""
        return self.client.authorize_redirect(self.redirect_uri())

    def finish(self) -> tuple[str, frozenset[str]]:
        """Check the provider's answer to the callback; the person's identity and their mapped roles."""
        try:
            claims = self._claims()
        except (*_errors().any, ValueError, KeyError, TypeError) as exc:
            raise SignInFailed(_words(exc)) from None
        identity = next((claims[k] for k in ("email", "preferred_username", "sub") if claims.get(k)), None)
        if not is_name(identity, PERSON_LENGTH):
            raise SignInFailed("the provider named nobody Gate can record (no usable email, username or subject)")
        return identity, mapped_roles(claims.get(self.settings.roles_claim), self.settings.role_map)

    def _claims(self) -> dict[str, Any]:
        metadata = self.client.load_server_metadata()
        options = {
            "iss": {"essential": True, "value": metadata["issuer"]},
            "aud": {"essential": True, "value": self.settings.client_id},
        }
        token = self.client.authorize_access_token(claims_options=options, leeway=LEEWAY_SECONDS)
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise ValueError("the provider sent no ID token")
        named = any(claims.get(k) for k in ("email", "preferred_username"))
        if (not named or self.settings.roles_claim not in claims) and metadata.get("userinfo_endpoint"):
            info = self.client.userinfo(token=token)
            if info.get("sub") != claims["sub"]:
                raise ValueError("userinfo speaks of another subject than the ID token")
            claims = {**info, **claims}  # what the signed ID token says wins
        return claims


class _Errors:
    """The failures of the libraries a sign-in goes through, imported with them."""

    def __init__(self) -> None:
        import requests
        from authlib.common.errors import AuthlibBaseError
        from joserfc import errors

        self.http, self.authlib, self.jose = requests.RequestException, AuthlibBaseError, errors.JoseError
        self.expired, self.unknown_key = errors.ExpiredTokenError, errors.InvalidKeyIdError
        self.claim = (errors.InvalidClaimError, errors.MissingClaimError)
        self.any = (self.authlib, self.jose, self.http)


@functools.cache
def _errors() -> _Errors:
    return _Errors()


def _words(exc: BaseException) -> str:
    """Why a sign-in failed, for the person and the log (never a token or a code)."""
    name = getattr(exc, "claim", None) or getattr(exc, "error", None)
    errors = _errors()
    if isinstance(exc, errors.expired):
        return "the ID token has expired"
    if isinstance(exc, errors.unknown_key):
        return "the ID token is signed with a key the provider does not publish"
    if isinstance(exc, errors.claim):
        return f"the ID token's {name} claim is wrong or missing (it is not for this Gate, or not from its provider)"
    if isinstance(exc, errors.jose):
        return f"the ID token cannot be trusted ({exc.__class__.__name__})"
    if isinstance(exc, errors.http):
        return f"the identity provider could not be reached ({exc.__class__.__name__})"
    if name == "mismatching_state":
        return "this sign-in was not started in this browser, or was already used (state mismatch)"
    if isinstance(exc, errors.authlib):
        return f"the identity provider refused: {name}: {getattr(exc, 'description', '') or ''}".rstrip(": ")
    return str(exc)


def register_sso(app: Flask) -> None:
    """Offer the identity provider when GATE_OIDC_* are set (checked at start: ParseError names each fault)."""
    settings = SignOn.from_settings(app.config)
    if settings is not None:
        app.extensions[KEY] = IdentityProvider(app, settings)


def provider(app: Flask | None = None) -> IdentityProvider | None:
    found: IdentityProvider | None = (app or current_app).extensions.get(KEY)
    return found


def configured_provider() -> IdentityProvider:
    found = provider()
    if found is None:
        raise NotFound("single sign-on is not configured here (GATE_OIDC_ISSUER)")
    return found
