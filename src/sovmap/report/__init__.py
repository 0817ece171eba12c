"""Reports: a self-contained HTML report, Markdown, and a parliamentary brief (NL/EN)."""
