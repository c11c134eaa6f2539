"""``python -m fleet_provider.emulator``: run the emulator from the command line."""

from .cli import main

raise SystemExit(main())
