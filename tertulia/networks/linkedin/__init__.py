"""LinkedIn organisation pages (Posts, Images, Comments and Statistics APIs, OAuth 2.0)."""
