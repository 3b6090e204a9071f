"""API routes for brands, accounts and members (filled in by the API work)."""

from ninja import Router

router = Router()
