"""Writes and workflows of the workspaces app, one module per sub-domain:
`workspaces` (workspaces, members, tokens), `secrets` (the vault), `datastores`, `compute`.

The workspace services are re-exported here, as most callers use them.
"""

from .workspaces import *  # noqa: F403
from .workspaces import __all__  # noqa: F401
