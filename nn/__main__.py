"""``python -m nn`` runs the ``deltagrad`` command."""

import sys

from nn.cli import main

sys.exit(main())
