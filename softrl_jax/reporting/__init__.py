"""The comparison report's parts (python -m softrl_jax.report): run folders and statistics (runs.py),
figures (figures.py), Markdown and HTML (markdown.py)."""
