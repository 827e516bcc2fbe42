"""Measurement procedures: plain functions fn(ctp10, …) that views submit through the link."""
