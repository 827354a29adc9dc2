"""A short-lived token of a hub user, for the hub's own calls to the companion on their behalf.

The hub (dev/jupyterhub_config.py, hotstepper.hubhome) asks the companion as the user: the
companion accepts only users' tokens, and answers with what that user may see. The token is
created for the call and deleted as soon as the answer is in; it never leaves the hub.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator


@asynccontextmanager
async def user_token(user: Any, note: str, expires_in: int = 60) -> AsyncIterator[str]:
    """A new API token of `user` (a jupyterhub.user.User), deleted when the block ends.

    expires_in bounds it should the hub stop before the block ends.
    """
    from jupyterhub import orm

    token = user.new_api_token(note=note, expires_in=expires_in)
    try:
        yield token
    finally:
        found = orm.APIToken.find(user.db, token)
        if found is not None:
            user.db.delete(found)
            user.db.commit()
