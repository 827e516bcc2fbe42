"""State, data and statistics of the app: plain Python, no Qt."""
