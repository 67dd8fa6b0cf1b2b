"""Households, client accounts, positions, tax lots, account settings and customizations."""
