"""Services of the default applications (flmping, flmexec), run by executors as ``python -m``."""
