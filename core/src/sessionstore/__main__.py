"""``python -m sessionstore``: the command line."""

from sessionstore.cli import main

main()
