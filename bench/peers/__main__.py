"""``python -m bench.peers``: see :mod:`bench.peers.main`."""

import sys

from bench.peers.main import main

sys.exit(main())
