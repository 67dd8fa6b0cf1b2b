"""Logins and sessions: two-factor authentication, session lifetimes, client addresses."""
