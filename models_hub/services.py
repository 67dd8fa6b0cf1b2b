"""Write side of the security master and prices.

Prices themselves are written in bulk by the price feed (:mod:`workflow.feeds.prices`) and the
demo's market-data loader; both finish with :func:`security_last_close_refresh`, the one writer of
the denormalised ``Security.last_close`` / ``last_close_date``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import OuterRef, Subquery

from models_hub.models import Price, Security
from rebalancer.authz import Actor, authorize
from rebalancer.roles import Resource


def security_last_close_refresh(
    *, firm_id: int, actor: Actor, security_ids: Iterable[int] | None = None
) -> int:
    """Set each security's ``last_close`` and ``last_close_date`` from its price history.

    ``security_ids`` None refreshes every security of the firm. One UPDATE; each security's
    latest price is one probe of the unique ``(security, date)`` index. Returns the rows updated.
    """
    authorize(actor=actor, firm=firm_id, resource=Resource.PRICE)
    latest = Price.objects.filter(security_id=OuterRef("pk")).order_by("-date")
    securities = Security.objects.for_firm(firm_id)
    if security_ids is not None:
        securities = securities.filter(pk__in=sorted(set(security_ids)))
    return securities.update(
        last_close=Subquery(latest.values("close")[:1]),
        last_close_date=Subquery(latest.values("date")[:1]),
    )
