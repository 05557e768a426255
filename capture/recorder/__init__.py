"""The recorder: a page's every request and response, taken over CDP into WARC records."""

from capture.recorder.recorder import (
    BODY_LIMIT,
    BUFFER_LIMIT,
    PASSBACK_LIMIT,
    BodyPlan,
    ProgressCallback,
    Recorder,
    plan_body,
)

__all__ = [
    "BODY_LIMIT",
    "BUFFER_LIMIT",
    "PASSBACK_LIMIT",
    "BodyPlan",
    "ProgressCallback",
    "Recorder",
    "plan_body",
]
