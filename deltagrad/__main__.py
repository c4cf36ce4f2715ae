"""``python -m deltagrad`` runs the ``deltagrad`` command."""

import sys

from deltagrad.cli import main

sys.exit(main())
