"""GraphiQL at /graphql, served entirely by the gateway so that it works with no internet.

The third-party bundles (React, GraphiQL, its explorer plugin) are not in git: `gateway
fetch-graphiql-assets` (gateway/graphql/ide_fetch.py) unpacks the pinned npm packages into the
assets directory. Our own start-up script and stylesheet live in ide_static/. Everything is
served under /graphql/assets/ with URLs that change with the content (package version, or a
hash of our files), so browsers may cache them for a year. The page allows only its own origin
(Content-Security-Policy), and subscriptions use the gateway's WebSocket at the same origin.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from html import escape
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

PINS_FILE = Path(__file__).with_name("graphiql_packages.json")
OWN_FILES = Path(__file__).with_name("ide_static")
DEFAULT_ASSETS_DIR = Path(__file__).resolve().parents[1] / "static" / "graphiql"
ASSETS_URL = "/graphql/assets"
FETCH_COMMAND = "gateway fetch-graphiql-assets"

# Only this origin. data: carries the fonts and icons that graphiql.min.css inlines; 'self'
# in connect-src also covers ws:// and wss:// to this host (CSP level 3).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
ASSET_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    integrity: str  # npm's "sha512-<base64>"
    files: tuple[str, ...]  # paths inside the package

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def folder(self) -> str:
        """Its folder under the assets directory, and its URL segment."""
        return f"{self.name.lstrip('@').replace('/', '-')}@{self.version}"

    @property
    def file_names(self) -> tuple[str, ...]:
        """Its files are kept flat in its folder."""
        return tuple(PurePosixPath(file).name for file in self.files)

    @property
    def tarball_name(self) -> str:
        """The file name `npm pack` gives it."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


def pinned_packages() -> tuple[NpmPackage, ...]:
    pins = json.loads(PINS_FILE.read_text())
    return tuple(
        NpmPackage(p["name"], p["version"], p["integrity"], tuple(p["files"]))
        for p in pins["packages"]
    )


def _own_files_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(OWN_FILES.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


class GraphiQLAssets:
    """The files the page needs, by URL path under ASSETS_URL: a fixed list, so a request can
    name nothing else (no directory listing, no path traversal)."""

    def __init__(
        self, directory: Path | None, packages: tuple[NpmPackage, ...] | None = None
    ) -> None:
        self.directory = directory or DEFAULT_ASSETS_DIR
        self.packages = {p.name: p for p in packages or pinned_packages()}
        self.vendor_files: dict[str, Path] = {
            f"{p.folder}/{name}": self.directory / p.folder / name
            for p in self.packages.values()
            for name in p.file_names
        }
        own = f"gateway-{_own_files_version()}"
        self.own_files = {f"{own}/{path.name}": path for path in OWN_FILES.iterdir()}
        self.files = {**self.vendor_files, **self.own_files}

    def missing(self) -> list[str]:
        return [url for url, path in self.vendor_files.items() if not path.is_file()]

    def url(self, root: str, package: str, file: str) -> str:
        if package == "gateway":
            key = next(key for key in self.own_files if key.endswith(f"/{file}"))
        else:
            key = f"{self.packages[package].folder}/{file}"
        assert key in self.files, key
        return f"{root}{ASSETS_URL}/{key}"

    async def serve(self, request: Request) -> Response:
        path = self.files.get(request.path_params["path"])
        if path is None or not path.is_file():
            return PlainTextResponse("Not Found", status_code=404)
        media_type = MEDIA_TYPES.get(path.suffix, "text/plain; charset=utf-8")
        return FileResponse(path, media_type=media_type, headers=ASSET_HEADERS)

    def page(self, request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        if self.missing():
            return HTMLResponse(_missing_page(), status_code=503, headers=PAGE_HEADERS)
        return HTMLResponse(self._page(root), headers=PAGE_HEADERS)

    def _page(self, root: str) -> str:
        def url(package: str, file: str) -> str:
            return escape(self.url(root, package, file), quote=True)

        styles = [
            url("graphiql", "graphiql.min.css"),
            url("@graphiql/plugin-explorer", "style.css"),
            url("gateway", "graphiql-page.css"),
        ]
        scripts = [
            url("react", "react.production.min.js"),
            url("react-dom", "react-dom.production.min.js"),
            url("graphiql", "graphiql.min.js"),
            url("@graphiql/plugin-explorer", "index.umd.js"),
            url("gateway", "graphiql-start.js"),
        ]
        links = "\n".join(f'    <link rel="stylesheet" href="{href}">' for href in styles)
        tags = "\n".join(f'    <script src="{src}"></script>' for src in scripts)
        endpoint = escape(f"{root}/graphql", quote=True)
        return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>GraphiQL - study gateway</title>
{links}
  </head>
  <body>
    <div id="graphiql" data-endpoint="{endpoint}">Loading GraphiQL...</div>
{tags}
  </body>
</html>
"""


def _missing_page() -> str:
    return f"""<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>GraphiQL is not installed</title></head>
  <body>
    <h1>GraphiQL is not installed on this server</h1>
    <p>The gateway serves GraphiQL's files itself, so that it works with no internet access,
    but they are not in its assets directory yet. Install them (this needs <code>npm</code>
    and access to the npm registry) and reload this page:</p>
    <pre>{FETCH_COMMAND}</pre>
    <p>On a host without network access, make the tarballs elsewhere with
    <code>npm pack $({FETCH_COMMAND} --print-specs)</code>, copy them over and run
    <code>{FETCH_COMMAND} --tarballs DIR</code>. The Docker image does this at build time.
    See docs/graphiql.md.</p>
    <p>GraphQL itself works: POST your operations to this URL.</p>
  </body>
</html>
"""
