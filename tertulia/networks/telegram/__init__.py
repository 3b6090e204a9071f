"""Telegram connector: channels through the Bot API, comments from the linked discussion group."""

from .connector import TelegramConnector, bot_id

__all__ = ["TelegramConnector", "bot_id"]
