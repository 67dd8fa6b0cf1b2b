"""``python -m optimizer.bench``: same as ``python -m optimizer bench`` (also the case worker)."""

from optimizer.bench import main

raise SystemExit(main())
