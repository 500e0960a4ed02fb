"""`python -m unitscope` runs the `unitscope` CLI."""

from unitscope.infra.cli import main

raise SystemExit(main())
