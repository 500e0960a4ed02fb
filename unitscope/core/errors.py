"""Errors a user can fix: the CLI prints their message (no traceback) and exits non-zero."""


class UnitscopeError(Exception):
    """Base for errors caused by input or configuration, with a message that says what to fix."""


class ConfigError(UnitscopeError):
    """A configuration value (flag or config file entry) is missing, unknown or out of range."""


class InputError(UnitscopeError):
    """An input location cannot be used: missing, empty, unreadable, or not in the expected format."""


class DamageError(UnitscopeError):
    """Stored data is damaged past what a stage may skip: the message names the files and the repair.
    Exit status 1 (the input is well-formed; its contents are not what was written)."""

    exit_code = 1
