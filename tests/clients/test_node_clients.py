"""Apollo Client 4, graphql-ws 6 and urql 6 (tests/clients/node, run by `node --test`) against
a real gateway on the tests' database. The Node side gets the URL and the tokens through its
environment; `.ci/run` installs its pinned packages with `npm ci`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import Cast, Live

NODE_DIR = Path(__file__).parent / "node"
TEST_FILES = sorted(p.name for p in NODE_DIR.glob("*.test.mjs"))
assert TEST_FILES, f"no *.test.mjs in {NODE_DIR}"


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_node_clients_pass_against_the_live_gateway(cast: Cast, live: Live, test_file: str) -> None:
    node = shutil.which("node")
    assert node, "node is not on PATH: the Node client tests cannot run"
    assert (NODE_DIR / "node_modules").is_dir(), "run: npm ci --prefix tests/clients/node"
    env = {
        **os.environ,
        "GATEWAY_URL": live.url,
        "GATEWAY_TOKEN_ADMIN": cast.admin,
        "GATEWAY_TOKEN_PROF": cast.prof,
        "GATEWAY_TOKEN_ANA": cast.ana,
        "GATEWAY_TOKEN_BOB": cast.bob,
        "NO_COLOR": "1",
    }
    # --conditions=development: Apollo's development build, the one that prints cache warnings.
    command = [
        node,
        "--conditions=development",
        "--test",
        "--test-reporter=spec",
        "--test-timeout=30000",  # one stuck test fails by name instead of hanging the run
        test_file,  # one process per file, and one pytest test per file
    ]
    done = subprocess.run(
        command, cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    output = done.stdout + done.stderr
    print(output)  # shown by pytest on failure, or with -s
    assert done.returncode == 0, output
    # The spec reporter ends with "<i> tests 12", "<i> pass 12", ...: nothing may be skipped.
    summary = dict(re.findall(r"^\S+ (tests|pass|skipped|todo) (\d+)$", output, re.M))
    assert summary.get("tests") not in (None, "0"), output
    assert summary["pass"] == summary["tests"], output
