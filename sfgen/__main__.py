import sys

from sfgen.cli import main

sys.exit(main())
