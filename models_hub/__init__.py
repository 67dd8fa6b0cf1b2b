"""Security master, prices, and (later) risk models, allocations, security models, equivalence sets."""
