"""``python -m optimizer_lab.bench`` = ``python -m optimizer bench`` (also the case worker)."""

from optimizer_lab.bench import main

raise SystemExit(main())
