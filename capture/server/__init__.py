"""The capture server: a REST API over :class:`~capture.service.CaptureService`."""

from capture.server.app import ServerSettings, make_app

__all__ = ["ServerSettings", "make_app"]
