"""Google's maintained clients, authorised as a Content Manager user, and what their failures mean.

Credentials are a refresh token of a Content Manager user with the app's client id and secret
(from ``CLAIMWATCH_GOOGLE_CLIENT_ID``, ``…_SECRET`` and ``…_REFRESH_TOKEN``, or one AWS Secrets Manager secret); ``google-auth`` refreshes the
access token, and on a ``401`` refreshes it and tries again, once. None of the three is ever
printed or logged (``config show`` masks them; :class:`Access` has no readable ``repr`` of them).

Calls go through :func:`execute`: ``google-api-python-client`` retries ``429``, ``5xx`` and the
rate-limit ``403``\\s itself with jittered exponential backoff (``num_retries``); what is left is one
:class:`ApiFailure` with a named kind, never a traceback:

========================  =====================================================================
``quota_exceeded``        the project's daily quota is spent: the collector stops until the reset
``unavailable``           still ``429``/``5xx``/unreachable after the retries: the next round retries
``unauthorised``          the refresh token was refused: an operator must renew it
``refused``               any other ``4xx``: a bad request, a job or report that does not exist
========================  =====================================================================

Bodies come back unparsed (:class:`RawJson`), so a malformed one is the collector's to quarantine
with its bytes, not an exception inside the client.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("claimwatch.collect")

RETRIES = 4  # the client's own backoff: up to 2 + 4 + 8 + 16 s (times a random factor) between tries
TIMEOUT_SECONDS = 60.0
SCOPES = (
    "https://www.googleapis.com/auth/youtubepartner",
    "https://www.googleapis.com/auth/yt-analytics.readonly",
    "https://www.googleapis.com/auth/youtube.readonly",
)
GOOGLE_DISCOVERY = "https://youtubepartner.googleapis.com/$discovery/rest?version={apiVersion}"


class ApiFailure(Exception):
    """A call that failed for good (after the client's retries): ``kind`` says what to do about it."""

    def __init__(self, kind: str, what: str, status: int | None, reason: str) -> None:
        super().__init__(f"{what}: {kind} ({status or 'no answer'}{', ' + reason if reason else ''})")
        self.kind = kind
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Access:
    """Where the APIs are and who calls them. The secrets stay in this object (``repr`` hides them)."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token_uri: str
    api_root: str  # "" for Google's own endpoints
    content_owner: str

    @property
    def complete(self) -> bool:
        return bool(self.client_id and self.client_secret and self.refresh_token)


def access_from_environment() -> Access:
    """The credentials from the environment, or from the Secrets Manager secret named by
    ``CLAIMWATCH_GOOGLE_SECRET_ID`` (a JSON object with ``client_id``, ``client_secret`` and
    ``refresh_token``)."""
    from claimwatch.config import environment

    env = environment()
    client_id = env.claimwatch_google_client_id
    secret = env.claimwatch_google_client_secret.get_secret_value()
    refresh = env.claimwatch_google_refresh_token.get_secret_value()
    if env.claimwatch_google_secret_id:
        from claimwatch.aws import client

        try:
            stored = json.loads(
                client("secretsmanager").get_secret_value(SecretId=env.claimwatch_google_secret_id)["SecretString"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"CLAIMWATCH_GOOGLE_SECRET_ID {env.claimwatch_google_secret_id[:120]}: not a JSON object with "
                f"client_id, client_secret and refresh_token ({type(exc).__name__})"
            ) from None
        if not isinstance(stored, dict):
            raise ValueError(f"CLAIMWATCH_GOOGLE_SECRET_ID {env.claimwatch_google_secret_id[:120]}: not a JSON object")
        client_id = str(stored.get("client_id") or client_id)
        secret = str(stored.get("client_secret") or secret)
        refresh = str(stored.get("refresh_token") or refresh)
    return Access(
        client_id=client_id,
        client_secret=secret,
        refresh_token=refresh,
        token_uri=env.claimwatch_google_token_uri,
        api_root=env.claimwatch_google_api_root.rstrip("/"),
        content_owner=env.claimwatch_content_owner_id,
    )


class Apis:
    """The three services, built once over one authorised HTTP connection."""

    def __init__(self, access: Access) -> None:
        import google_auth_httplib2
        import httplib2
        from google.oauth2.credentials import Credentials
        from googleapiclient.discovery import build
        from googleapiclient.model import JsonModel

        class RawJson(JsonModel):  # type: ignore[misc]
            """The body as bytes: parsed (or quarantined) by the collector."""

            def deserialize(self, content: bytes | str) -> bytes:
                return content.encode() if isinstance(content, str) else content

        credentials = Credentials(  # type: ignore[no-untyped-call]
            token=None,
            refresh_token=access.refresh_token,
            client_id=access.client_id,
            client_secret=access.client_secret,
            token_uri=access.token_uri,
            scopes=list(SCOPES),
        )
        self.access = access
        self._http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=TIMEOUT_SECONDS))
        root = access.api_root
        options = {"api_endpoint": f"{root}/"} if root else None
        common: dict[str, Any] = {"http": self._http, "cache_discovery": False, "model": RawJson()}
        self.reporting = build("youtubereporting", "v1", client_options=options, static_discovery=True, **common)
        self.youtube = build("youtube", "v3", client_options=options, static_discovery=True, **common)
        discovery = f"{root}/discovery/v1/apis/{{api}}/{{apiVersion}}/rest" if root else GOOGLE_DISCOVERY
        try:
            self.partner = build(
                "youtubePartner", "v1", discoveryServiceUrl=discovery, static_discovery=False, **common
            )
        except Exception as exc:  # the discovery document could not be fetched or read, or no token
            raise classify(exc, "youtubePartner discovery") from None

    def owner(self) -> dict[str, str]:
        return {"onBehalfOfContentOwner": self.access.content_owner} if self.access.content_owner else {}

    def download(self, url: str) -> bytes:
        """A report's bytes from its ``downloadUrl`` (the client's media download, as Google's sample)."""
        import io

        from googleapiclient.http import MediaIoBaseDownload

        request = self.reporting.media().download(resourceName=" ")
        request.uri = url
        sink = io.BytesIO()
        downloader = MediaIoBaseDownload(sink, request, chunksize=8 << 20)
        done = False
        try:
            while not done:
                _, done = downloader.next_chunk(num_retries=RETRIES)
        except Exception as exc:
            raise classify(exc, "report download") from None
        return sink.getvalue()


def execute(request: Any, what: str) -> bytes:
    """The body of one call (bytes), or :class:`ApiFailure`."""
    try:
        body = request.execute(num_retries=RETRIES)
    except Exception as exc:
        raise classify(exc, what) from None
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def classify(exc: BaseException, what: str) -> ApiFailure:
    """What a failure of the client means (see the module's table)."""
    import google.auth.exceptions
    import httplib2
    from googleapiclient.errors import HttpError

    if isinstance(exc, ApiFailure):
        return exc
    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        reason = _reason(exc)
        if status == 403 and reason in ("quotaExceeded", "dailyLimitExceeded"):
            return ApiFailure("quota_exceeded", what, status, reason)
        if status == 429 or status >= 500 or reason in ("rateLimitExceeded", "userRateLimitExceeded"):
            return ApiFailure("unavailable", what, status, reason)
        if status == 401:
            return ApiFailure("unauthorised", what, status, reason)
        return ApiFailure("refused", what, status, reason)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return ApiFailure("unauthorised", what, None, "the refresh token was refused")
    if isinstance(exc, OSError | httplib2.HttpLib2Error | TimeoutError):
        return ApiFailure("unavailable", what, None, type(exc).__name__)
    return ApiFailure("refused", what, None, type(exc).__name__)


def _reason(exc: Any) -> str:
    try:
        body = json.loads(exc.content.decode("utf-8"))
        errors = body["error"].get("errors") or []
        return str(errors[0].get("reason", "")) if errors else str(body["error"].get("status", ""))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return ""


def parse(body: bytes) -> tuple[dict[str, Any] | None, str]:
    """A body as a JSON object, or None and why not (for its quarantine entry)."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"response is not JSON: {str(exc)[:200]}"
    if not isinstance(value, dict):
        return None, f"response is a JSON {type(value).__name__}, not an object"
    return value, ""
