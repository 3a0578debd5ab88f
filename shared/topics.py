"""Kafka topic names (see docs/architecture.md). Prefix them with ``Settings.topic``."""

COMPLAINTS = "linkage.intake.complaints.v1"
CASES = "linkage.dispatch.cases.v1"
DELIVERIES = "linkage.notify.deliveries.v1"
FEEDBACK = "linkage.feedback.v1"
AUDIT_CHECKPOINTS = "linkage.audit.checkpoints.v1"  # heads of the case history chains (dispatch)
HOTSPOTS = "linkage.analytics.hotspots.v1"  # 未诉先办: hot spots found by analytics (intake opens patrol tasks)
PATROLS = "linkage.intake.patrols.v1"  # patrol tasks opened and done (analytics counts them)

ALL_TOPICS = (COMPLAINTS, CASES, DELIVERIES, FEEDBACK, AUDIT_CHECKPOINTS, HOTSPOTS, PATROLS)


def dead_letter_topic(topic: str, group: str) -> str:
    return f"{topic}.dlq.{group}"
