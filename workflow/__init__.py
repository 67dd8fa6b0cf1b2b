"""Nightly runs, analyses, proposed trades, filters, approvals, orders, dashboards, feeds."""
