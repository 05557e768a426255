"""``serve``'s OpenID Connect options: the provider, this server's client id, and which of
the provider's groups give which role here.

The client secret is a secret, so it is never an option (options show in ``ps`` and
shell histories): it comes from ``OSINT_CAPTURE_OIDC_CLIENT_SECRET``.
"""

from __future__ import annotations

import argparse
import os

from archive.errors import BadInput
from capture.server.oidc_client import OidcSettings

SECRET_VARIABLE = "OSINT_CAPTURE_OIDC_CLIENT_SECRET"


def oidc_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "logging in through an OpenID Connect provider (docs/access.md)",
        f"the client secret comes from ${SECRET_VARIABLE}",
    )
    group.add_argument("--oidc-issuer", metavar="URL", help="the provider's issuer URL")
    group.add_argument("--oidc-client-id", metavar="ID", help="this server's client id there")
    group.add_argument(
        "--oidc-roles",
        metavar="GROUP=ROLE,...",
        help="which of the provider's groups give which role here (a person with none of"
        " them cannot log in)",
    )
    group.add_argument(
        "--oidc-role-claim",
        default="groups",
        metavar="CLAIM",
        help="the ID token's claim that lists a person's groups (groups)",
    )


def oidc_settings(args: argparse.Namespace) -> OidcSettings | None:
    """The provider's settings, or ``None`` when no ``--oidc-issuer`` is given; refused
    (:class:`BadInput`) when something it needs is missing."""
    if not args.oidc_issuer:
        if args.oidc_client_id or args.oidc_roles:
            raise BadInput("--oidc-client-id and --oidc-roles need --oidc-issuer")
        return None
    if not args.oidc_client_id or not args.oidc_roles:
        raise BadInput("--oidc-issuer needs --oidc-client-id and --oidc-roles GROUP=ROLE,...")
    secret = os.environ.get(SECRET_VARIABLE, "")
    if not secret:
        raise BadInput(
            f"--oidc-issuer needs the client secret in ${SECRET_VARIABLE} (never an option:"
            " options show in process lists)"
        )
    return OidcSettings(
        issuer=args.oidc_issuer,
        client_id=args.oidc_client_id,
        client_secret=secret,
        roles=OidcSettings.parse_roles(args.oidc_roles),
        role_claim=args.oidc_role_claim,
    )
