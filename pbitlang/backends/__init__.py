"""The backend registry: built-ins imported lazily, plus the entry-point group
"pbitlang.backends" for backends in other packages."""
from __future__ import annotations

import importlib
import sys
import types
import warnings
from importlib.metadata import entry_points

from ..errors import BackendError
from .base import Backend

BUILTIN = {
    "cpu": ("pbitlang.backends.cpu", "CpuBackend"),
    "reference": ("pbitlang.backends.reference", "ReferenceBackend"),
    "exact": ("pbitlang.backends.exact", "ExactBackend"),
    "emulator": ("pbitlang.backends.emulator", "EmulatorBackend"),
}


def _entry_points() -> dict:
    try:
        return {ep.name: ep for ep in entry_points(group="pbitlang.backends")}
    except Exception:  # noqa: BLE001 - a broken third-party install must not break the built-ins
        return {}


def _load(name: str):
    if name in BUILTIN:
        module, cls = BUILTIN[name]
        return getattr(importlib.import_module(module), cls)
    return _entry_points()[name].load()


def list_backends() -> dict:
    """name → one-line description of every installed backend."""
    out = {}
    for name in list(BUILTIN) + sorted(set(_entry_points()) - set(BUILTIN)):
        try:
            out[name] = _load(name).description
        except Exception as err:  # noqa: BLE001 - report a backend that fails to import, keep listing
            out[name] = f"(unavailable: {err})"
    return out


def get_backend(backend) -> Backend:
    """A backend from a name, a Backend subclass or an instance."""
    if isinstance(backend, Backend):
        return backend
    if isinstance(backend, type) and issubclass(backend, Backend):
        return backend()
    if isinstance(backend, str):
        if backend not in BUILTIN and backend not in _entry_points():
            raise BackendError(f"unknown backend '{backend}' (installed: {', '.join(list_backends())})")
        return _load(backend)()
    raise BackendError(f"a backend is a name, a Backend class or an instance, not {type(backend).__name__}")


def run_backend(ir, backend, **options):
    return get_backend(backend).sample(ir, **options)


class _CallableModule(types.ModuleType):
    """`pbitlang.backends()` was the function list_backends(): calling the package still works for a
    release, with a DeprecationWarning, and the package is no longer shadowed by a function."""

    def __call__(self) -> dict:
        warnings.warn("pbitlang.backends() is deprecated: use pbitlang.list_backends()", DeprecationWarning,
                      stacklevel=2)
        return list_backends()


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["Backend", "list_backends", "get_backend", "run_backend"]
