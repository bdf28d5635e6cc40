import sys

from psybench.cli import main

sys.exit(main())
