import sys

from sovmap.cli import main

sys.exit(main())
