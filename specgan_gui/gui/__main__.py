"""Run the window with ``python -m specgan_gui.gui``."""

import sys

from specgan_gui.gui.app import main

sys.exit(main())
