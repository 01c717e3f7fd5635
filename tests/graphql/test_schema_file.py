from gateway.config import Settings
from gateway.graphql.schema import build_schema
from gateway.migrate import ROOT


def test_schema_graphql_is_current() -> None:
    """schema.graphql is generated (`gateway export-schema`); regenerate it when this fails."""
    sdl = build_schema(Settings(env="development")).as_str() + "\n"
    assert (ROOT / "schema.graphql").read_text() == sdl
