"""python -m release_trains"""

import sys

from .cli.main import main

sys.exit(main())
