"""One module per `unitscope` subcommand; each defines `register(subparsers)` and sets `func`."""
