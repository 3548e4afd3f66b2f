"""``python -m cnn_lib.pretrained NAME``: retrain a shipped network from its recipe."""

import sys

from . import main

sys.exit(main())
