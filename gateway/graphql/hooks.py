"""Strawberry's extension runner with each extension class's hooks classified once.

For every operation strawberry enters four lifecycle stages (operation, parsing, validation,
execution), and for each it inspects every extension's hook again: is it overridden, a
generator, an async generator, and wraps it with `contextlib.contextmanager` over a freshly
bound method (which copies the function's metadata with `functools.update_wrapper`). The
answer depends only on the extension's class (strawberry reads the hook from the class), so
here it is computed once per (class, stage) and each request only binds the wrapped hook to
its extension instance. Hooks run in the same order, through the same context manager types;
a hook that is a plain function keeps strawberry's own wrapping.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

# (class, stage) -> None (no hook), or (context manager factory taking the extension, is_async),
# or (None, False) for a plain-function hook (strawberry's own wrapping, per request).
_Classified = tuple[Callable[[Any], Any] | None, bool] | None
_HOOKS: dict[tuple[type[SchemaExtension], str], _Classified] = {}


def _classify(cls: type[SchemaExtension], stage: str) -> _Classified:
    hook = getattr(cls, stage)
    if hook is getattr(SchemaExtension, stage):
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    return None, False


# (extension classes of an operation, stage) -> the positions of the extensions with that hook.
_WITH_HOOK: dict[tuple[tuple[type[SchemaExtension], ...], str], tuple[int, ...]] = {}


class _ClassifiedHooks(ExtensionContextManagerBase):
    __slots__ = ()

    def __init__(self, extensions: list[SchemaExtension]) -> None:
        # strawberry asks every extension for every stage's hook; only those that have one are
        # asked here (the list of classes is the same for every operation of a schema).
        key = (tuple(type(extension) for extension in extensions), self.HOOK_NAME)
        positions = _WITH_HOOK.get(key)
        if positions is None:
            positions = _WITH_HOOK[key] = tuple(
                i for i, cls in enumerate(key[0]) if _classified(cls, self.HOOK_NAME) is not None
            )
        self.default_hook = getattr(SchemaExtension, self.HOOK_NAME)
        self.hooks = [hook for i in positions if (hook := self.get_hook(extensions[i]))]

    def get_hook(self, extension: SchemaExtension) -> WrappedHook | None:
        classified = _classified(type(extension), self.HOOK_NAME)
        if classified is None:
            return None
        factory, is_async = classified
        if factory is None:
            return super().get_hook(extension)
        return WrappedHook(extension=extension, hook=partial(factory, extension), is_async=is_async)


def _classified(cls: type[SchemaExtension], stage: str) -> _Classified:
    key = (cls, stage)
    try:
        return _HOOKS[key]
    except KeyError:
        classified = _HOOKS[key] = _classify(cls, stage)
        return classified


class _Operation(_ClassifiedHooks, OperationContextManager):
    __slots__ = ()


class _Parsing(_ClassifiedHooks, ParsingContextManager):
    __slots__ = ()


class _Validation(_ClassifiedHooks, ValidationContextManager):
    __slots__ = ()


class _Executing(_ClassifiedHooks, ExecutingContextManager):
    __slots__ = ()


class ClassifiedHooksRunner(SchemaExtensionsRunner):
    """strawberry's runner; only how each stage's hooks are looked up differs."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
