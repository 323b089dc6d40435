"""``python -m flamepy`` does nothing (as in flamepy 0.6.0); the command line is ``flmctl``."""
