"""Defaults shared by the command line, the dashboard and the commands they print (kept import-light)."""

#: Where `hwnas pareto`, `hwnas extract`, `hwnas dashboard` … look when no `--storage` is given: `make run`'s store.
DEFAULT_STORAGE = "sqlite:///experiments/quickstart.db"
