"""``python -m claimwatch.cli``: the same as the ``claimwatch`` command."""

import sys

from claimwatch.cli import main

sys.exit(main())
