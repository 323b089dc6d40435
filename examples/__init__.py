"""Runnable examples of Flame for Python (``python -m examples.demo``)."""
