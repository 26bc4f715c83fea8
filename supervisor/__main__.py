"""``python -m supervisor`` is ``xenon-runner``."""
import sys

from supervisor.cli import main

sys.exit(main())
