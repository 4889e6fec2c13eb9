"""The backend registry: built-ins imported lazily, plus the entry-point group
"pbitlang.backends" for backends in other packages."""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import BackendError
from .base import Backend

BUILTIN = {
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


def backends() -> dict:
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
            raise BackendError(f"unknown backend '{backend}' (installed: {', '.join(backends())})")
        return _load(backend)()
    raise BackendError(f"a backend is a name, a Backend class or an instance, not {type(backend).__name__}")


def run_backend(ir, backend, **options):
    return get_backend(backend).sample(ir, **options)


__all__ = ["Backend", "backends", "get_backend", "run_backend"]
