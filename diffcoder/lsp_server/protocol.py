"""The server's own protocol, in one place: custom method and command names and the argument and
result models of each. The extension's `lsp_ext.ts` mirrors this module (a test compares them).
"""

from __future__ import annotations

STATUS_REQUEST = "diffcoder/status"
EDIT_COMMAND = "diffcoder.edit"
CANCEL_COMMAND = "diffcoder.cancel"
