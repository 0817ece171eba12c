"""Exit plans: alternatives, migration tasks, list scheduling and Monte-Carlo forecasts."""
