"""The CTP10 driver and its built-in simulator: plain Python, no Qt."""
