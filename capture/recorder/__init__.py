"""The recorder: a page's every request and response, taken over CDP into WARC records."""

from capture.recorder.bodies import BodyPlan, plan_body
from capture.recorder.limits import BODY_LIMIT, BUFFER_LIMIT, PASSBACK_LIMIT
from capture.recorder.recorder import Recorder

__all__ = [
    "BODY_LIMIT",
    "BUFFER_LIMIT",
    "PASSBACK_LIMIT",
    "BodyPlan",
    "Recorder",
    "plan_body",
]
