"""YouTube (Data API v3): one channel signed in with Google OAuth 2.0 (PKCE, refresh)."""
