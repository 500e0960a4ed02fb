"""`python -m infra` runs the `unitscope` CLI."""

from infra.cli import main

raise SystemExit(main())
