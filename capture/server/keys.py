"""Typed keys for what the application holds (aiohttp AppKey)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from capture.server.access import AccessState
    from capture.server.app import ServerSettings
    from capture.server.oidc_login import OidcLogins
    from capture.service import CaptureService

SERVICE: web.AppKey[CaptureService] = web.AppKey("service")
SETTINGS: web.AppKey[ServerSettings] = web.AppKey("settings")
ACCESS: web.AppKey[AccessState] = web.AppKey("access")
#: The OpenID Connect provider's logins, or ``None`` when none is configured.
OIDC: web.AppKey[OidcLogins | None] = web.AppKey("oidc")
