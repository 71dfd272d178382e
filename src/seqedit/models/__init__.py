"""Model registry, GGUF conversion and loading."""
