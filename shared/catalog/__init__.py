"""The matter catalog (事项目录): versioned data files plus a validating loader.

>>> from shared.catalog import default_catalog
>>> cat = default_catalog()
>>> cat.matter("MZ001").limit_for("求助")
"""

from .loader import CatalogError, default_catalog, load_catalog
from .models import (
    CATEGORY_NAMES,
    TERRITORIAL,
    Catalog,
    Department,
    Matter,
    TimeLimit,
    TimeLimits,
)

__all__ = [
    "CATEGORY_NAMES",
    "TERRITORIAL",
    "Catalog",
    "CatalogError",
    "Department",
    "Matter",
    "TimeLimit",
    "TimeLimits",
    "default_catalog",
    "load_catalog",
]
