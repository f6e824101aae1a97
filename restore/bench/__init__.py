"""Benchmarks: pipelines of the zoo and classical baselines measured on a dataset folder.

:mod:`restore.bench.runner` runs every task's methods x cases under one timing protocol and
formats the tables; the task modules (``denoise``, ``upscale``, ``unwatermark``,
``colorize``, ``inpaint``) build the cases, the baselines, the scoring and the method list,
and each has ``reports(...)``, what ``restore bench TASK`` calls; :mod:`restore.bench.pictures`
draws the comparison pictures.
"""
