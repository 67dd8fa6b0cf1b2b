"""Market data from the repository: the real S&P 500 files, the synthetic funds, and the loader.

``real`` reads ``data/sp500/``; ``synthetic`` makes the labelled synthetic funds; ``load`` writes
both into a firm's security master and price history; ``bulk`` holds the fast row inserts.
"""
