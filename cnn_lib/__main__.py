"""``python -m cnn_lib`` runs the command line (see ``cnn_lib.cli``)."""

import sys

from .cli import main

sys.exit(main())
