"""``python -m lyra.cli``: the ``lyra`` command without its console script."""

import sys

from lyra.cli.main import main

sys.exit(main())
