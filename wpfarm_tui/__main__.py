import sys

from wpfarm_tui.cli import main

sys.exit(main())
