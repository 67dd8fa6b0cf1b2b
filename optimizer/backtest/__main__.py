"""``python -m optimizer.backtest`` = ``python -m optimizer backtest``."""

from optimizer.backtest import main

raise SystemExit(main())
