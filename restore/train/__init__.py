"""Training loops and datasets. Never imported by ``import restore``."""
