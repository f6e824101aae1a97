"""The model zoo: specs, registry and weights loading.

Importing any part of ``restore.zoo`` runs the registrations of :mod:`restore.zoo.models`
(an explicit import list, no directory scanning); ``registry`` itself imports no model.
"""

from restore.zoo.registry import (ModelSpec, WeightsError, build_model, default_model, get_spec,
                                  list_models, load_model, register_model, resolve_device)
from restore.zoo import models  # noqa: E402,F401  (the registrations)

__all__ = ["ModelSpec", "WeightsError", "build_model", "default_model", "get_spec", "list_models",
           "load_model", "register_model", "resolve_device"]
