"""The OpenAPI 3.1 document of the API, one module per group of routes."""

from capture.server.openapi.document import document

__all__ = ["document"]
