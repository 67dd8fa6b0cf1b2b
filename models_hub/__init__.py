"""Security master and prices; later risk models, allocations, security models, equivalences."""
