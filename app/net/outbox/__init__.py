"""The outbox: objects waiting to be sent, its administration, its sending."""
