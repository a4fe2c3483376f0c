"""A stand-in for the Kaggle API, enough of it for the `kaggle` client's dataset download.

It answers the calls kaggle 2.2.5 / kagglesdk 0.1.38 make in the client's documented
local environment (KAGGLE_API_ENVIRONMENT=LOCALHOST: the API at http://localhost/api/v1/):

- POST /api/v1/security.OAuthService/IntrospectToken   (authenticating with KAGGLE_API_TOKEN)
- POST /api/v1/datasets.DatasetApiService/DownloadDataset
      -> 302 to a storage URL, as Kaggle redirects to a signed Cloud Storage URL
- GET  /storage/<owner>/<slug>.zip   (Range requests too, which the client uses to resume)

Credentials are checked like Kaggle does: a Bearer token, or HTTP Basic username:key.
Errors come back as Kaggle's JSON error body {"code": ..., "message": ...}.

The client reaches it as a plain HTTP proxy (HTTP_PROXY=<url>: requests puts the full
http://localhost/... URL in the request line), so nothing of the client is patched.
"""

import base64
import io
import json
import secrets
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

DATASET = "kritikseth/fruit-and-vegetable-image-recognition"
USERNAME = "standin-user"
# Distinctive values, so a test can tell they never leak into a message or a log.
TOKEN = "KGAT_" + secrets.token_hex(16)
KEY = "key" + secrets.token_hex(16)

API = "/api/v1/"
INTROSPECT = API + "security.OAuthService/IntrospectToken"
DOWNLOAD = API + "datasets.DatasetApiService/DownloadDataset"


@dataclass
class StandInState:
    """What the server accepts and serves; tests change it between calls."""

    username: str
    key: str
    token: str
    archives: dict[str, bytes] = field(default_factory=dict)  # "owner/slug" -> zip bytes
    drop_after: int | None = None  # close the connection after this many body bytes ...
    drops_left: int = 0  # ... for this many archive downloads
    echo_status: int | None = None  # answer downloads with this error, quoting the request
    calls: list[str] = field(default_factory=list)  # "METHOD path" of every request
    urls: list[str] = field(default_factory=list)  # and the URL it was sent to, as a proxy


class StandInKaggle:
    """A threaded HTTP server on 127.0.0.1, on a free port, speaking the calls above."""

    def __init__(self, state: StandInState) -> None:
        self.state = state
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "StandInKaggle":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def use_standin(mp: Any, url: str) -> None:
    """Send the `kaggle` client's API calls to `url` through settings it documents and honours.

    KAGGLE_API_ENVIRONMENT=LOCALHOST makes kagglesdk call http://localhost/api/v1/...;
    HTTP_PROXY sends those requests (and the archive download after the redirect) to `url`,
    which answers them as a proxy would. `mp` is a pytest MonkeyPatch: all of it is undone
    after the test.
    """
    mp.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    mp.setenv("HTTP_PROXY", url)
    for name in ("NO_PROXY", "no_proxy"):  # localhost must go through the proxy
        mp.delenv(name, raising=False)


def _make_handler(state: StandInState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

        @property
        def route(self) -> str:
            """The request's path, whether it came as a proxy request or directly."""
            return urlsplit(self.path).path

        def _record(self) -> None:
            state.calls.append(f"{self.command} {self.route}")
            state.urls.append(self.path if urlsplit(self.path).scheme else "(direct)")

        def do_POST(self) -> None:
            self._record()
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                return self._json(400, {"code": 400, "message": "Bad request"})
            if self.route == INTROSPECT:
                # RFC 7662: an unknown token is not an error, just inactive.
                if body.get("token") == state.token:
                    return self._json(200, {"active": True, "username": state.username})
                return self._json(200, {"active": False})
            if self.route == DOWNLOAD:
                if state.echo_status is not None:  # as a careless server or proxy does
                    auth = self.headers.get("Authorization")
                    message = f"Internal error handling request with Authorization: {auth}"
                    body = {"code": state.echo_status, "message": message}
                    return self._json(state.echo_status, body)
                if not self._authorised():
                    return self._json(401, {"code": 401, "message": "Unauthenticated"})
                ref = f"{body.get('ownerSlug')}/{body.get('datasetSlug')}"
                if ref not in state.archives:
                    return self._json(404, {"code": 404, "message": "Not found"})
                self.send_response(302)
                self.send_header("Location", f"{_base(self)}/storage/{ref}.zip")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._json(404, {"code": 404, "message": f"No such API call {self.route}"})

        def do_GET(self) -> None:
            self._record()
            ref = self.route.removeprefix("/storage/").removesuffix(".zip")
            if not self.route.startswith("/storage/") or ref not in state.archives:
                return self._json(404, {"code": 404, "message": "Not found"})
            data = state.archives[ref]
            start = 0
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[len("bytes=") : -1])
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", f'"{len(data)}"')
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            body = data[start:]
            if state.drops_left > 0 and state.drop_after is not None:
                # Promise the whole body, send part of it, then hang up.
                state.drops_left -= 1
                self.wfile.write(body[: state.drop_after])
                self.wfile.flush()
                self.close_connection = True
                return None
            self.wfile.write(body)
            return None

        def _authorised(self) -> bool:
            scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
            if scheme == "Bearer":
                return value == state.token
            if scheme == "Basic":
                try:
                    user, _, key = base64.b64decode(value).decode().partition(":")
                except ValueError:
                    return False
                return (user, key) == (state.username, state.key)
            return False

        def _json(self, status: int, payload: dict[str, object]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _base(handler: BaseHTTPRequestHandler) -> str:
    host, port = handler.server.server_address[:2]
    return f"http://{host}:{port}"


def tiny_jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (seed * 37 % 256, seed * 91 % 256, seed * 13 % 256)).save(buf, "JPEG")
    return buf.getvalue()


def make_archive(
    top: str = "",
    splits: tuple[str, ...] = ("train", "validation", "test"),
    classes: tuple[str, ...] = ("apple", "bell pepper"),
    per_class: int = 2,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """A zip shaped like the real archive: <top>/<split>/<class>/Image_<n>.jpg."""
    buf = io.BytesIO()
    prefix = f"{top}/" if top else ""
    n = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for split in splits:
            for cls in classes:
                for i in range(per_class):
                    n += 1
                    zf.writestr(f"{prefix}{split}/{cls}/Image_{i + 1}.jpg", tiny_jpeg(n))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()
