"""Instagram professional accounts (Instagram Graph API with Facebook Login). Accounts are
connected by the Meta sign-in in ``tertulia.networks.meta``; see ``connector.py``."""

from .connector import InstagramConnector

__all__ = ["InstagramConnector"]
