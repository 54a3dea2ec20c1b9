"""Reports on a run: a self-contained HTML page (``html.py``) and the markdown round table
that each round publishes as a Prefect artifact (``markdown.py``).

Both read the store only (``round_table``, ``problem_pass_rates``, ``score_histogram``,
``get_run``; the page also ``list_checkpoints``, ``heldout_solved``, ``sample_counts``,
``sample_rows``, ``query_samples``); neither imports torch. matplotlib and jinja2 are
imported inside the functions that use them; the page's template is a package file
(``templates/report.html.j2``).
"""

from selftaught.report.html import write_report
from selftaught.report.markdown import artifact_key, round_table_markdown

__all__ = ["artifact_key", "round_table_markdown", "write_report"]
