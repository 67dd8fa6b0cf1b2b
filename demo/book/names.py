"""Fixed word lists for demo names. Invented people; any likeness to a real client is chance."""

from __future__ import annotations

_SURNAMES = (
    "Abbott Acosta Adams Alvarez Anderson Archer Bailey Baker Banks Barnes Bauer Bell Bennett "
    "Brooks Bryant Burke Campbell Carter Castillo Chen Clark Coleman Collins Cooper Cruz "
    "Daniels Davis Dawson Diaz Dixon Donovan Duncan Edwards Ellis Evans Fischer Fleming Flores "
    "Foster Fox Franklin Garcia Gibson Gordon Graham Grant Gray Greene Griffin Hale Hansen "
    "Harper Harris Hayes Henderson Hoffman Holland Howard Hughes Hunt Jackson Jensen Johnson "
    "Jordan Kane Keller Kelly Kennedy Kim Klein Knight Lambert Larsen Lawson Lee Lewis Lopez "
    "Lowe Marshall Martin Mason Meyer Miller Mitchell Moore Morales Morgan Murphy Nash Nelson "
    "Nguyen Novak Olsen Ortiz Owens Palmer Park Parker Patel Perry Peters Porter Powell Price "
    "Quinn Ramirez Reed Reyes Richards Rivera Roberts Rogers Ross Russell Santos Schmidt Scott "
    "Shaw Silva Simmons Singh Sullivan Takahashi Taylor Thompson Torres Turner Vance Vargas "
    "Wagner Walker Wallace Ward Warren Watson Weber Wells West Wheeler White Williams Wong "
    "Wright Young Zimmerman"
)
SURNAMES: tuple[str, ...] = tuple(_SURNAMES.split())

_FIRST_NAMES = (
    "Aaron Abigail Adrian Aisha Alan Alice Amara Andrew Angela Ava Benjamin Beth Brian Carlos "
    "Caroline Catherine Charles Chloe Daniel Diana Dominic Eleanor Elena Elijah Emily Ethan "
    "Fatima Frances Gabriel Grace Hannah Harold Helen Isaac Isabel Jack James Jane Julia Kenji "
    "Laura Leo Linda Lucas Maria Martha Michael Mila Nadia Nathan Noah Olivia Omar Paul Priya "
    "Rachel Robert Rosa Samuel Sarah Sofia Thomas Victor Walter William Yara Zoe"
)
FIRST_NAMES: tuple[str, ...] = tuple(_FIRST_NAMES.split())

CUSTODIANS: tuple[str, ...] = ("Schwab", "Fidelity", "Pershing", "BNY Mellon")

FLAG_LEGACY = "Legacy concentrated"
FLAG_TLH = "Tax-loss harvesting"
FLAG_DO_NOT_CONTACT = "Do not contact"
FLAG_ESG = "ESG screen"
FLAG_NEW_CLIENT = "New client"
FLAG_PENDING_TRANSFER = "Pending transfer"

FLAGS: tuple[str, ...] = (
    FLAG_LEGACY,
    FLAG_TLH,
    FLAG_DO_NOT_CONTACT,
    FLAG_ESG,
    FLAG_NEW_CLIENT,
    FLAG_PENDING_TRANSFER,
)
