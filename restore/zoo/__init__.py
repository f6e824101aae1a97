"""The model zoo: specs, registry, weights loading and the models' inference settings.

Importing any part of ``restore.zoo`` runs the registrations of :mod:`restore.zoo.models`
(an explicit import list, no directory scanning); ``registry`` itself imports no model.
"""

from restore.zoo.registry import (ModelSpec, WeightsError, build_model, default_model, get_spec, list_models,
                                  load_model, model_for_scale, model_for_sigma, register_model, resolve_device)
from restore.zoo.settings import ColorizeSettings, DenoiseSettings, InpaintSettings, UnwatermarkSettings
from restore.zoo import models  # noqa: E402,F401  (the registrations)

__all__ = ["ColorizeSettings", "DenoiseSettings", "InpaintSettings", "ModelSpec", "UnwatermarkSettings",
           "WeightsError", "build_model", "default_model", "get_spec", "list_models", "load_model",
           "model_for_scale", "model_for_sigma", "register_model", "resolve_device"]
