"""The store's failures, named for the services that catch them (they import no SQLAlchemy).

``StoreError``: the database could not be read or written (down, locked, disk full, refused).
``WriteConflict``: a write broke a unique key or another constraint; ``repository.is_duplicate``
tells a row another sync stored first from any other fault.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError as WriteConflict
from sqlalchemy.exc import SQLAlchemyError as StoreError

__all__ = ["StoreError", "WriteConflict"]
