"""What a hostile-input test checks after every refusal: nothing stored, nothing queued."""

from __future__ import annotations

from sqlalchemy import func, select

from service.config import Settings
from service.storage.db import session_factory
from service.storage.models import InboundDeliveryRow, MessageRow, TicketRow


def stored_rows(settings: Settings) -> int:
    """Return how many tickets, messages and delivery ids the database holds."""
    with session_factory(settings.sqlalchemy_url)() as session:
        return sum(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (TicketRow, MessageRow, InboundDeliveryRow)
        )
