"""`python -m collector ...` is the `collector` command."""

from collector.cli import entry

if __name__ == "__main__":
    entry()
