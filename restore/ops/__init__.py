"""Pure tensor functions shared by the pipelines: color, tiling, degradations."""
