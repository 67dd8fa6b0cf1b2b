"""The demo: generators of a deterministic demo book and its market data, and the benchmarks
that run on it. Not the domain: the domain apps never import it.

``book`` plans and writes the demo firms' households, accounts and lots; ``marketdata`` reads
the real S&P 500 files in ``data/sp500/``, makes the labelled synthetic funds and loads both into
a firm; ``management/commands`` holds ``demo_book``, ``load_market_data`` and ``bench_pages``.
"""
