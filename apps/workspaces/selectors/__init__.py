"""Reads of the workspaces app, always scoped through permissions; one module per
sub-domain. The workspace selectors are re-exported here, as most callers use them."""

from .workspaces import *  # noqa: F403
from .workspaces import __all__  # noqa: F401
