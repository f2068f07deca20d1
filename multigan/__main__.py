"""``python -m multigan`` (also what ``torchrun -m multigan`` starts)."""

from .cli import main

raise SystemExit(main())
