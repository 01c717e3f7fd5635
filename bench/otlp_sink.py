"""A do-nothing OTLP/HTTP receiver for `bench.run --tracing`: accepts every export with 200,
so the gateway's exporter does its full work (batching, protobuf encoding, the POST) without a
trace backend. Run: python -m bench.otlp_sink PORT"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def traces(request: Request) -> Response:
    await request.body()
    return Response(b"", media_type="application/x-protobuf")


app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
