"""``python -m fleet_provider.emulator``: run the emulator from the command line."""

from .server import main

raise SystemExit(main())
