"""The optimizer's lab: everything that studies the engine rather than runs it.

Installed by the ``lab`` extra (``pip install -e '.[lab]'``: cvxpy and matplotlib); the web
app and the workers install ``optimizer`` without it. The engine never imports the lab (an
import-linter contract).

- ``bench``: the engine against cvxpy on real-data accounts (``python -m optimizer_lab bench``).
- ``backtest``: the tax-alpha backtest over real S&P 500 prices (``... backtest``).
- ``reference``: an independent cvxpy statement of docs/optimizer.md, for cross-checks.
- ``data``: the S&P 500 price, cap and sector files under ``data/sp500``.
- ``risk``: factor risk models estimated from those prices.
"""
