from tests.chat.conftest import World, alt_app, world

__all__ = ["World", "alt_app", "world"]
