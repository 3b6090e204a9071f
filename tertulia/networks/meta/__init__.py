"""What Facebook Pages, Instagram and Threads share: the Graph API client (``graph.py``), the
Meta sign-in that connects Pages and their Instagram accounts, and the webhooks."""
