"""Sphinx configuration of the airflow-provider-conversations documentation."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

# autodoc imports the package, which imports Airflow: unless AIRFLOW_HOME is set, give Airflow a
# throwaway home (it writes a default airflow.cfg there, not into ~/airflow), and no example DAGs.
# This must happen before anything imports Airflow.
if "AIRFLOW_HOME" not in os.environ:
    _airflow_home = tempfile.mkdtemp(prefix="conversations-docs-airflow-")
    os.environ["AIRFLOW_HOME"] = _airflow_home
    atexit.register(shutil.rmtree, _airflow_home, ignore_errors=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_provider_conversations import __version__  # noqa: E402

project = "airflow-provider-conversations"
author = "airflow-provider-conversations developers"
copyright = "airflow-provider-conversations developers"  # noqa: A001
version = release = __version__

extensions = ["sphinx.ext.autodoc"]

# Docstrings are reST with :param: fields; show the type hints next to each parameter.
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_member_order = "bysource"

exclude_patterns = ["_build"]
nitpicky = False

html_theme = "alabaster"
html_title = f"{project} {release}"
html_theme_options = {"description": "Conversations API to S3 JSONL partitions"}
