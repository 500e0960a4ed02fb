"""Errors a user can fix: the CLI prints their message (no traceback) and exits non-zero."""


class UnitscopeError(Exception):
    """Base for errors caused by input or configuration, with a message that says what to fix."""


class ConfigError(UnitscopeError):
    """A configuration value (flag or config file entry) is missing, unknown or out of range."""


class InputError(UnitscopeError):
    """An input location cannot be used: missing, empty, unreadable, or not in the expected format."""
