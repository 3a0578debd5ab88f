"""Classification of complaint text: kind (诉求类型), category (大类), matter (事项) and emergency.

>>> from services.intake.classify import classify
>>> classify("楼下着火了").emergency.service
'119'
"""

from .model import Classifier
from .schemas import CategoryScore, Classification, ClassifyRequest, Emergency, MatterScore
from .service import classify, default_classifier

__all__ = [
    "CategoryScore",
    "Classification",
    "Classifier",
    "ClassifyRequest",
    "Emergency",
    "MatterScore",
    "classify",
    "default_classifier",
]
