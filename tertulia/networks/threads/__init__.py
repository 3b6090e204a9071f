"""Threads (threads.com) through the Threads API: the connector, and its own Meta sign-in."""
