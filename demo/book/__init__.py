"""The demo book: planned deterministically from a seed (``plan``), written in bulk (``write``)."""
