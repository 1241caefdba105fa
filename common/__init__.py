"""Helpers shared by every stage: the user-error type, atomic file writes, the CLI base."""
