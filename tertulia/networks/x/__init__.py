"""X (API v2): the connector and the OAuth 2.0 (PKCE) sign-in."""
