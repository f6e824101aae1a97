"""Task pipelines (one class per task) and the shared folder runner."""
