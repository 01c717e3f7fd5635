"""The lock files (requirements/*.txt, written by scripts/lock.sh) agree with pyproject.toml.

CI installs requirements/test.txt and the image requirements/runtime.txt with
`pip install --require-hashes`: every dependency pyproject.toml names must be pinned there, at a
version its specifier allows, with the files' hashes. A changed bound in pyproject.toml fails here
until the lock is regenerated (docs/operations.md, "Installing from the lock").
"""

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
TEST_LOCK = ROOT / "requirements" / "test.txt"
PROJECT = "study-gateway"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Pin:
    version: Version
    hashes: tuple[str, ...]


def _entries(lock: Path) -> list[str]:
    """The lock's requirement entries, each with its backslash-continued lines joined."""
    entries: list[str] = []
    current = ""
    for raw in lock.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        current += " " + line.removesuffix("\\").strip()
        if not line.endswith("\\"):
            entries.append(current.strip())
            current = ""
    assert not current, f"{lock.name} ends in a continuation line"
    return entries


def _pins(lock: Path) -> dict[NormalizedName, Pin]:
    pins: dict[NormalizedName, Pin] = {}
    for entry in _entries(lock):
        requirement, *options = entry.split()
        match = PIN.match(requirement)
        assert match, f"{lock.name}: {requirement!r} is not pinned with =="
        assert options and all(HASH.match(option) for option in options), (
            f"{lock.name}: {requirement} has no sha256 hash (or another option than --hash)"
        )
        name = canonicalize_name(match["name"])
        assert name not in pins, f"{lock.name} pins {name} twice"
        pins[name] = Pin(Version(match["version"]), tuple(options))
    return pins


def _declared() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return {
        "runtime": [Requirement(text) for text in project["dependencies"]],
        "otel": [Requirement(text) for text in extras["otel"]],
        # The test extra names the project itself (for its otel extra): that is not a lock line.
        "test": [
            requirement
            for requirement in map(Requirement, extras["test"])
            if canonicalize_name(requirement.name) != PROJECT
        ],
    }


def _locks_for(group: str) -> list[Path]:
    """The image needs the runtime and otel dependencies; CI needs all of them."""
    return [TEST_LOCK] if group == "test" else [RUNTIME_LOCK, TEST_LOCK]


def _cases() -> list[tuple[str, Requirement, Path]]:
    return [
        (group, requirement, lock)
        for group, requirements in _declared().items()
        for requirement in requirements
        for lock in _locks_for(group)
    ]


@pytest.mark.parametrize(
    ("group", "requirement", "lock"),
    _cases(),
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
def test_every_declared_dependency_is_pinned_within_its_specifier(
    group: str, requirement: Requirement, lock: Path
) -> None:
    pin = _pins(lock).get(canonicalize_name(requirement.name))
    assert pin is not None, f"{requirement.name} ({group}) missing in {lock.name}: scripts/lock.sh"
    # A specifier that names a pre-release (">=0.66b2") admits pre-releases by itself.
    assert requirement.specifier.contains(pin.version, prereleases=True), (
        f"{lock.name} pins {requirement.name}=={pin.version}, outside {requirement.specifier} "
        "declared in pyproject.toml: run scripts/lock.sh"
    )


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, TEST_LOCK], ids=lambda lock: lock.name)
def test_every_lock_line_is_pinned_with_a_hash_and_names_its_target(lock: Path) -> None:
    pins = _pins(lock)  # asserts == and hashes on every entry
    assert pins
    assert PROJECT not in pins, "the project itself is installed with --no-deps -e, not locked"
    header = lock.read_text().split("\n", 5)[:5]
    assert any("CPython 3.11 on Linux x86_64" in line for line in header), header


def test_ci_runs_what_the_image_runs() -> None:
    """Every package of the image's lock is in CI's lock at the same version."""
    runtime, test = _pins(RUNTIME_LOCK), _pins(TEST_LOCK)
    differing = {
        name: (pin.version, test[name].version if name in test else None)
        for name, pin in runtime.items()
        if name not in test or test[name].version != pin.version
    }
    assert not differing, f"runtime.txt vs test.txt: {differing}"


def _extra_dependencies(requirement: Requirement) -> list[Requirement]:
    """What `name[extra]` adds here (this Python, this platform), per the installed metadata."""
    added: list[Requirement] = []
    for text in metadata.requires(requirement.name) or []:
        dependency = Requirement(text)
        if dependency.marker is not None and any(
            dependency.marker.evaluate({"extra": extra})
            and not dependency.marker.evaluate({"extra": ""})
            for extra in requirement.extras
        ):
            added.append(dependency)
    return added


@pytest.mark.parametrize(
    ("requirement", "lock"),
    [(requirement, lock) for _, requirement, lock in _cases() if requirement.extras],
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
def test_the_packages_of_a_requested_extra_are_locked_too(
    requirement: Requirement, lock: Path
) -> None:
    """`uvicorn[standard]` needs uvloop, httptools, ...: they must be in the lock as well."""
    pins = _pins(lock)
    added = _extra_dependencies(requirement)
    assert added, f"{requirement} adds nothing: is {requirement.name} installed?"
    missing = [str(needed) for needed in added if canonicalize_name(needed.name) not in pins]
    assert not missing, f"{lock.name} lacks what {requirement} needs: {missing}"


def test_ci_and_the_image_install_from_the_lock_with_hashes() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -q --require-hashes -r requirements/test.txt" in ci
    assert "pip install -q --no-deps -e ." in ci
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements/runtime.txt" in dockerfile
    assert 'pip install --no-deps -e ".[otel]"' in dockerfile
    assert "FROM python:3.11-" in dockerfile  # the Python the lock is resolved for
    # No other install step resolves versions on its own.
    for text in (ci, dockerfile):
        resolving = [
            line
            for line in text.splitlines()
            if "pip install" in line
            and not line.lstrip().startswith("#")
            and "--require-hashes" not in line
            and "--no-deps" not in line
            and "--upgrade pip" not in line
        ]
        assert not resolving, resolving
