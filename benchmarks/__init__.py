"""Benchmarks: one script per measured claim, each printing numbers and ratios to its goal."""
