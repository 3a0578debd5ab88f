"""逆向评价: a street's rating of a department that served it, one per street, department and month.

Source data of analytics (not a projection of the case stream): ``linkage analytics rebuild`` keeps it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Identity, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class DepartmentReview(Base):
    __tablename__ = "department_reviews"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    """First day of the month rated."""
    street_code: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(20))
    score: Mapped[int] = mapped_column(Integer)
    """1 (很不满意) … 5 (很满意)."""
    comment: Mapped[str | None] = mapped_column(String(500))
    reviewer: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("month", "street_code", "department", name="uq_department_reviews_month"),)
