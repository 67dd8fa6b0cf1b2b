"""factory_boy factories for firm-owned rows. Deterministic: sequences, no random values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from guardian.shortcuts import assign_perm

from accounts.models import Account, Household, Position, RegistrationType, TaxLot
from accounts.services import account_values_refresh, book_revalue
from models_hub.models import Price, Security, SecurityType
from rebalancer.authz import SystemActor
from rebalancer.models import Firm, Membership
from rebalancer.roles import Role
from rebalancer.tenancy import HOUSEHOLD_ASSIGNMENT_PERMISSION

PASSWORD = "correct-horse-battery-staple"


class FirmFactory(factory.django.DjangoModelFactory[Firm]):
    class Meta:
        model = Firm

    name = factory.Sequence(lambda n: f"Firm {n}")
    slug = factory.Sequence(lambda n: f"firm-{n}")


class UserFactory(factory.django.DjangoModelFactory[Any]):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


def member(firm: Firm, role: Role, username: str) -> Any:
    """A user with a membership of ``firm`` in ``role``."""
    user = UserFactory.create(username=username)
    Membership.objects.create(firm=firm, user=user, role=role)
    return user


class HouseholdFactory(factory.django.DjangoModelFactory[Household]):
    class Meta:
        model = Household

    firm = factory.SubFactory(FirmFactory)
    external_id = factory.Sequence(lambda n: f"HH{n:05d}")
    name = factory.Sequence(lambda n: f"Household {n}")


def assign_household(household: Household, advisor: Any) -> None:
    """Give ``advisor`` the guardian object permission that puts ``household`` in their book."""
    assign_perm(f"accounts.{HOUSEHOLD_ASSIGNMENT_PERMISSION}", advisor, household)


class AccountFactory(factory.django.DjangoModelFactory[Account]):
    class Meta:
        model = Account

    household = factory.SubFactory(HouseholdFactory)
    firm = factory.SelfAttribute("household.firm")
    name = factory.Sequence(lambda n: f"Account {n}")
    custodian = "Schwab"
    account_number = factory.Sequence(lambda n: f"ACC{n:07d}")
    registration_type = RegistrationType.TAXABLE
    cash_balance = Decimal("10000.00")


class SecurityFactory(factory.django.DjangoModelFactory[Security]):
    class Meta:
        model = Security

    firm = factory.SubFactory(FirmFactory)
    ticker = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.LazyAttribute(lambda s: f"{s.ticker} Inc.")
    security_type = SecurityType.STOCK
    sector = "Information Technology"


class PriceFactory(factory.django.DjangoModelFactory[Price]):
    class Meta:
        model = Price

    security = factory.SubFactory(SecurityFactory)
    firm = factory.SelfAttribute("security.firm")
    date = dt.date(2019, 12, 31)
    close = Decimal("100.000000")

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Price:
        """Save the price, then refresh its security's latest close as every price writer does."""
        price: Price = super()._create(model_class, *args, **kwargs)
        book_revalue(
            firm_id=price.firm_id, actor=SystemActor.COMMAND, security_ids=[price.security_id]
        )
        return price


def holding(
    account: Account,
    security: Security,
    lots: list[tuple[str, Decimal, Decimal, dt.date]],
) -> Position:
    """A position made of ``lots`` = [(lot_id, quantity, cost_basis_dollars, acquired_on)]."""
    position = Position.objects.create(
        firm=account.firm,
        account=account,
        security=security,
        quantity=sum((q for _, q, _, _ in lots), Decimal("0")),
    )
    for lot_id, quantity, basis, acquired_on in lots:
        TaxLot.objects.create(
            firm=account.firm,
            account=account,
            security=security,
            position=position,
            lot_id=lot_id,
            quantity=quantity,
            cost_basis=basis,
            acquired_on=acquired_on,
        )
    account_values_refresh(
        firm_id=account.firm_id, actor=SystemActor.COMMAND, account_ids=[account.pk]
    )
    return position
