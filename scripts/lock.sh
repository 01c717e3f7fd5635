#!/usr/bin/env bash
# Regenerates the lock files from pyproject.toml: requirements/runtime.txt (the main dependencies
# and the `otel` extra: the image) and requirements/test.txt (everything `.[test]` needs: CI).
# Both are resolved for CPython 3.11 on Linux x86_64 (CI's and the image's Python), against PyPI
# only, with every file's hash, so `pip install --require-hashes` installs exactly what was locked.
#
#   scripts/lock.sh                      # re-resolve, keeping the current pins where they still fit
#   scripts/lock.sh --upgrade            # move every package to its newest allowed release
#   scripts/lock.sh --upgrade-package mypy   # move one package (repeatable)
#
# Then: install from the new lock in a fresh venv, run ruff, mypy and the tests (docs/operations.md).
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
INDEX=https://pypi.org/simple
# uv from PyPI, pinned, in a throwaway venv: the lock does not depend on what the caller has.
uv_bin=${UV:-}
if [ -z "$uv_bin" ]; then
  tools=$(mktemp -d)
  trap 'rm -rf "$tools"' EXIT
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q --disable-pip-version-check --index-url "$INDEX" \
    "uv==$UV_VERSION" 2>/dev/null
  uv_bin="$tools/venv/bin/uv"
fi

compile() {  # compile OUTPUT EXTRA... [-- uv options]
  local output=$1; shift
  local extras=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do extras+=(--extra "$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  # --no-config and --index-url: only PyPI, whatever pip or uv settings this machine has.
  UV_CUSTOM_COMPILE_COMMAND="scripts/lock.sh" "$uv_bin" pip compile pyproject.toml \
    --quiet --no-config --index-url "$INDEX" --no-emit-index-url \
    --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
    --generate-hashes "${extras[@]}" --output-file "$output" "$@"
  # The target goes in the header, where the next reader looks first.
  sed -i '2a # Target: CPython 3.11 on Linux x86_64; hashes from PyPI (https://pypi.org/simple).' \
    "$output"
}

compile requirements/runtime.txt otel -- "$@"
# CI tests what the image runs: the test lock keeps every runtime pin.
compile requirements/test.txt test -- --constraint requirements/runtime.txt "$@"
echo "wrote requirements/runtime.txt and requirements/test.txt"
