"""`python -m tests.fresh` (make test-fresh): the README's quick start on a fresh Debian; see machine.py."""

import sys

from tests.fresh.machine import main

sys.exit(main())
