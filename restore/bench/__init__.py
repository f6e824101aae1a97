"""Benchmarks: pipelines of the zoo and classical baselines measured on a dataset folder."""
