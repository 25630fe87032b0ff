"""Capability tokens for watchlist feeds: a long random secret per watchlist, rotatable.

A feed reader cannot log in to Airflow, so each watchlist's Atom feed is also served at a URL
holding this token; rotating it cuts off every reader that had the old URL.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from trialwatch.store.models import FeedToken

TOKEN_BYTES = 32  # 256 bits: not guessable, 43 URL-safe characters


def feed_token(session: Session, watchlist: str) -> str | None:
    """The watchlist's current token, or None if none was made yet."""
    row = session.get(FeedToken, watchlist)
    return row.token if row is not None else None


def rotate_feed_token(session: Session, watchlist: str, *, now: datetime | None = None) -> str:
    """A new token for the watchlist (its first, or replacing the old one, which stops working)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = session.get(FeedToken, watchlist)
    if row is None:
        session.add(FeedToken(watchlist=watchlist, token=token, created_at=now or datetime.now(UTC)))
    else:
        row.token = token
        row.created_at = now or datetime.now(UTC)
    session.flush()
    return token


def watchlist_for_token(session: Session, token: str) -> str | None:
    """The watchlist whose feed ``token`` opens, or None for an unknown token."""
    if not token or len(token) > 64:
        return None
    return session.scalar(select(FeedToken.watchlist).where(FeedToken.token == token))
