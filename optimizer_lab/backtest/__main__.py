"""``python -m optimizer_lab.backtest`` = ``python -m optimizer backtest``."""

from optimizer_lab.backtest import main

raise SystemExit(main())
