"""Headless verbs beyond status/lab/console: each module has `register(verbs)`.

A module adds its subparsers and sets `func` on them; cli.py lists the modules.
"""
