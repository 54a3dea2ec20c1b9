"""Reports on a run: a self-contained HTML page (``html.py``) and the markdown round table
that each round publishes as a Prefect artifact (``markdown.py``).

Both read the store only (``round_table``, ``problem_pass_rates``, ``score_histogram``,
``get_run``); neither imports torch. matplotlib is imported inside the plotting functions.
"""

from selftaught.report.html import write_report
from selftaught.report.markdown import artifact_key, round_table_markdown

__all__ = ["artifact_key", "round_table_markdown", "write_report"]
