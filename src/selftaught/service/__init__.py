"""Services: what a ``selftaught`` command does once its arguments are parsed, when that is
more than one store call and is not a Prefect flow.

Each function takes plain values (a store URL or ``Store``, paths, settings) and returns a
frozen record; none prints or exits: ``cli/*_cmd.py`` parse, call one function here (or a
flow in ``flows/``), and print. A service may use the store, the loops, the judges, prm and
search; nothing below it imports it (``docs/architecture.md`` draws the layers).

* ``export``: the sample history as TRL-format datasets (``selftaught export``);
* ``problems``: problem import from JSONL / Parquet / saved datasets (``selftaught import``);
* ``search``: load the policy and reward models, run a test-time search, store it
  (``selftaught search``).
"""
