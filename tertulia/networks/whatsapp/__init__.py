"""WhatsApp Business (Cloud API): one-to-one customer conversations in the inbox."""

from .connector import WhatsAppConnector

__all__ = ["WhatsAppConnector"]
