"""The model zoo: specs, registry and weights loading."""

from restore.zoo.registry import (ModelSpec, WeightsError, build_model, default_model, get_spec,
                                  list_models, load_model, register_model, resolve_device)

__all__ = ["ModelSpec", "WeightsError", "build_model", "default_model", "get_spec", "list_models",
           "load_model", "register_model", "resolve_device"]
