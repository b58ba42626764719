"""`python -m fact_resilience demo|simulate`."""

import sys

from .cli import main

sys.exit(main())
