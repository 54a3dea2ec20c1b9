"""Services: what a ``selftaught`` command does once its arguments are parsed, when that is
more than one store call and is not a Prefect flow.

Each function takes plain values (a store URL or ``Store``, paths, settings) and returns a
frozen record or a JSON-ready summary; none prints or exits: ``cli/*_cmd.py`` parse, call
one function here (or a flow in ``flows/``), and print. A service may use the store, the
loops, the judges, prm, search and ``flows.context`` (``evaluate``); nothing below the CLI
imports it (``docs/architecture.md`` draws the layers).

* ``checkpoints``: a run's checkpoints against their manifests (``selftaught checkpoint verify``);
* ``compare``: runs compared on their held-out problems (``selftaught compare``);
* ``evaluate``: one checkpoint on one problem file (``selftaught eval``);
* ``export``: the sample history as TRL-format datasets (``selftaught export``);
* ``problems``: problem import from JSONL / Parquet / saved datasets (``selftaught import``);
* ``search``: load the policy and reward models, run a test-time search, store it
  (``selftaught search``).
"""
