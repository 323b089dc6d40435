"""``python -m flamepy.runner``: the Runner self-test (:mod:`flamepy.runner.e2e`)."""

from __future__ import annotations

import sys

from flamepy.runner.e2e import main

if __name__ == "__main__":
    sys.exit(main())
