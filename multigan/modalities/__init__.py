"""Built-in modalities. Each sub-package registers itself and its families on import."""
