"""One module per feature; each exposes ``register(app, services)``; callback bodies are plain functions."""
