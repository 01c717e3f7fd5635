"""GraphiQL's page and assets over HTTP: everything from the gateway, a self-only CSP, long
cache headers, a helpful page when the assets are absent, and the fetch command's checks.
(tests/browser runs the page itself in Chromium.)"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.graphql.ide import FETCH_COMMAND, NpmPackage
from gateway.graphql.ide_fetch import AssetFetchError, install
from tests.conftest import Api
from tests.ops.conftest import ROOT, AppFactory

HTML = {"Accept": "text/html"}


def asset_urls(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)="([^"]+)\"""", page)


async def test_graphiql_page_loads_every_asset_from_the_gateway(api: Api) -> None:
    r = await api.client.get("/graphql", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    # No inline script (the CSP would block it) and nothing from another host.
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text) is None, r.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", r.text), r.text
    urls = asset_urls(r.text)
    assert len(urls) == 8, urls
    for url in urls:
        assert url.startswith("/graphql/assets/"), url
        served = await api.client.get(url)
        assert served.status_code == 200, url
        kind = "text/javascript" if url.endswith(".js") else "text/css"
        assert served.headers["content-type"].startswith(kind), url
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.content, url
    assert any("graphiql@" in url and url.endswith("graphiql.min.js") for url in urls)


@pytest.mark.parametrize(
    "path",
    [
        "/graphql/assets/",
        "/graphql/assets/graphiql@3.8.3/package.json",
        "/graphql/assets/graphiql@3.8.3/../../../gateway/config.py",
        "/graphql/assets/graphiql@3.8.3/%2e%2e/%2e%2e/ide.py",
        "/graphql/assets/gateway-000000000000/graphiql-start.js",
    ],
)
async def test_only_the_listed_assets_are_served(api: Api, path: str) -> None:
    assert (await api.client.get(path)).status_code == 404


async def test_without_assets_the_page_says_how_to_get_them(
    make_api: AppFactory, tmp_path: Path
) -> None:
    async with make_api(graphiql_assets_dir=tmp_path / "empty") as api:
        r = await api.client.get("/graphql", headers=HTML)
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
        assert f"<pre>{FETCH_COMMAND}</pre>" in r.text and "--tarballs" in r.text
        assert "Loading" not in r.text and "<script" not in r.text
        assert (await api.client.get("/graphql/assets/react@18.2.0/LICENSE")).status_code == 404
        # The API itself is unaffected.
        ok = await api.client.post("/graphql", json={"query": "{ __typename }"})
        assert ok.json() == {"data": {"__typename": "Query"}}


async def test_production_has_no_ide_and_no_assets(make_api: AppFactory) -> None:
    async with make_api(env="production") as api:
        page = await api.client.get("/graphql", headers=HTML)
        assert "graphiql" not in page.text.lower()
        asset = await api.client.get("/graphql/assets/react@18.2.0/react.production.min.js")
        assert asset.status_code == 404


def make_tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def pin(data: bytes, files: tuple[str, ...] = ("dist/tool.js",)) -> NpmPackage:
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    return NpmPackage("@scope/tool", "1.2.3", f"sha512-{digest}", files)


def test_fetch_installs_only_the_listed_files_of_a_verified_tarball(tmp_path: Path) -> None:
    data = make_tarball(
        {
            "package/dist/tool.js": b"console.log(1)",
            "package/dist/other.js": b"not listed",
            "package/../../escape.js": b"outside",
        }
    )
    tarballs = tmp_path / "tarballs"
    tarballs.mkdir()
    package = pin(data)
    (tarballs / package.tarball_name).write_bytes(data)
    assert package.tarball_name == "scope-tool-1.2.3.tgz"  # as `npm pack` names it
    destination = tmp_path / "assets"
    install((package,), tarballs, destination)
    folder = destination / "scope-tool@1.2.3"
    assert sorted(p.name for p in folder.iterdir()) == ["tool.js"]
    assert (folder / "tool.js").read_bytes() == b"console.log(1)"
    assert not (tmp_path / "escape.js").exists()
    assert sorted(p.name for p in destination.iterdir()) == ["scope-tool@1.2.3"]


def test_fetch_refuses_a_tarball_that_does_not_match_its_pin(tmp_path: Path) -> None:
    good = make_tarball({"package/dist/tool.js": b"console.log(1)"})
    package = pin(good)
    (tmp_path / package.tarball_name).write_bytes(
        make_tarball({"package/dist/tool.js": b"steal(document.cookie)"})
    )
    with pytest.raises(AssetFetchError, match="does not match the pinned integrity"):
        install((package,), tmp_path, tmp_path / "assets")
    assert not (tmp_path / "assets").exists()  # nothing written


def test_fetch_command_reports_missing_tarballs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch-graphiql-assets", "--print-specs"]) == 0
    specs = capsys.readouterr().out.split()
    assert "graphiql@3.8.3" in specs and "react@18.2.0" in specs
    code = main(["fetch-graphiql-assets", "--tarballs", str(tmp_path), "--dest", str(tmp_path)])
    assert code == 1
    assert "npm pack react@18.2.0" in capsys.readouterr().err


def test_the_image_and_ci_install_graphiql_from_the_pinned_packages() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY gateway/graphql/graphiql_packages.json" in dockerfile
    assert "gateway fetch-graphiql-assets --tarballs" in dockerfile
    assert "gateway fetch-graphiql-assets" in (ROOT / ".ci" / "run").read_text()
