"""``python -m sfgen.run``: Sample Factory's ``python -m sample_factory.runner.run``, option for option."""

import sys

from sfgen.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
