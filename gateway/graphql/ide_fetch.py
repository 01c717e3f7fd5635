"""`gateway fetch-graphiql-assets`: GraphiQL's pinned npm packages into the assets directory.

The tarballs come from `npm pack` (npm's own registry configuration applies: a mirror, a proxy,
a token), or from a folder of tarballs made elsewhere with `npm pack` (air-gapped hosts, the
Docker build). Every tarball is checked against the sha512 pinned in graphiql_packages.json
before anything is written; only the listed files are read out of it, never extracted as a
tree, so a tarball cannot write outside its folder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from gateway.graphql.ide import NpmPackage


class AssetFetchError(Exception):
    pass


def integrity_matches(data: bytes, integrity: str) -> bool:
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in {"sha256", "sha384", "sha512"}:
        raise AssetFetchError(f"unsupported integrity algorithm: {integrity!r}")
    return hashlib.new(algorithm, data).digest() == base64.b64decode(expected)


def npm_pack(packages: tuple[NpmPackage, ...], into: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise AssetFetchError(
            "npm was not found. Install Node.js and npm, or make the tarballs on another "
            "machine with `npm pack` and pass their folder with --tarballs."
        )
    command = [npm, "pack", *(p.spec for p in packages), "--pack-destination", str(into)]
    # The arguments are the pinned specs from our own file, not user input.
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise AssetFetchError(f"`{' '.join(command)}` failed:\n{done.stderr}")


def _read_verified(package: NpmPackage, tarballs: Path) -> bytes:
    tarball = tarballs / package.tarball_name
    if not tarball.is_file():
        raise AssetFetchError(f"{tarball} is missing (make it with `npm pack {package.spec}`)")
    data = tarball.read_bytes()
    if not integrity_matches(data, package.integrity):
        raise AssetFetchError(
            f"{tarball.name} does not match the pinned integrity of {package.spec}: refused"
        )
    return data


def _members(package: NpmPackage, data: bytes) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for file in package.files:
            try:
                member = archive.extractfile(f"package/{file}")
            except KeyError:
                member = None
            if member is None:
                raise AssetFetchError(f"{package.spec} has no file {file}")
            contents[PurePosixPath(file).name] = member.read()
    return contents


def install(packages: tuple[NpmPackage, ...], tarballs: Path, destination: Path) -> list[Path]:
    """Verify every tarball first, then replace each package's folder as a whole."""
    verified = [(p, _members(p, _read_verified(p, tarballs))) for p in packages]
    destination.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for package, contents in verified:
        staging = Path(tempfile.mkdtemp(prefix=f".{package.folder}.", dir=destination))
        for name, body in contents.items():
            (staging / name).write_bytes(body)
        staging.chmod(0o755)
        target = destination / package.folder
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        written.append(target)
    return written


def fetch(
    packages: tuple[NpmPackage, ...], destination: Path, tarballs: Path | None = None
) -> list[Path]:
    if tarballs is not None:
        return install(packages, tarballs, destination)
    with tempfile.TemporaryDirectory(prefix="graphiql-tarballs-") as scratch:
        npm_pack(packages, Path(scratch))
        return install(packages, Path(scratch), destination)
