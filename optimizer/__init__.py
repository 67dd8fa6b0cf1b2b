"""Tax-aware, lot-level portfolio optimizer: a pure numerical library (no Django)."""
