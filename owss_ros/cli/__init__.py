"""Command-line adapters. Each sub-command lives in its own module with ``register(subparsers)``."""
