"""Summarise py-spy collapsed stacks (python -m bench.run --py-spy writes bench/out/*.txt).

    python -m bench.profile bench/out/gateway-rest-profile.txt [--top 25]

Prints the share of samples spent inside each package (inclusive: a sample counts once for every
package on its stack) and the hottest functions by self time, so that "where the time goes"
has numbers.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")
PACKAGES = (
    ("gateway/", "gateway (our code)"),
    ("strawberry/", "strawberry"),
    ("graphql/", "graphql-core"),
    ("sqlalchemy/", "sqlalchemy"),
    ("asyncpg/", "asyncpg"),
    ("fastapi/", "fastapi"),
    ("pydantic", "pydantic"),
    ("starlette/", "starlette"),
    ("uvicorn/", "uvicorn"),
    ("joserfc/", "joserfc"),
    ("greenlet", "greenlet"),
    ("asyncio/", "asyncio"),
)


def package(path: str) -> str | None:
    for needle, name in PACKAGES:
        if needle in path:
            return name
    return None


def summarise(text: str, top: int) -> str:
    total = 0
    inclusive: Counter[str] = Counter()
    selftime: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        seen = {p for f in frames if (m := FRAME.match(f)) and (p := package(m["file"]))}
        for name in seen:
            inclusive[name] += n
        if frames:
            selftime[frames[-1]] += n
    out = [f"{total} samples", "", "inclusive share by package:"]
    out += [f"  {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common()]
    out += ["", f"top {top} functions by self time:"]
    out += [f"  {100 * n / total:5.1f} %  {frame}" for frame, n in selftime.most_common(top)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.files:
        print(f"== {path}")
        print(summarise(path.read_text(), args.top))


if __name__ == "__main__":
    main()
