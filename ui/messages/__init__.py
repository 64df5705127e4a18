"""Messages: the outbox of automatic messages and the Inbox of replies."""
