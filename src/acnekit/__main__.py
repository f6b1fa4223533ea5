import sys

from acnekit.cli import main

sys.exit(main())
