"""One module per `acnekit` subcommand; each defines ``register(subparsers)``.

Modules here are discovered automatically by `acnekit.cli`; helpers shared by several
commands live in modules whose name starts with ``_``.
"""
