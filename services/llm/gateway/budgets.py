"""Per-tenant budgets: tokens per minute (a sliding 60-second window) and spend per UTC day.

Exactness under concurrency comes from reservations. A request is admitted only while the tenant's
settled usage plus what its in-flight requests have reserved is under the limit; it reserves its
prompt tokens plus its `max_tokens` (the most it can use) and the price of those, and settles to its
real usage when it finishes. So concurrent requests cannot all slip in at once, and a tenant can end
over a limit by at most the one request admitted last. The ledger lives in the gateway process (the
event loop makes every admit atomic); with N gateway replicas each enforces 1/N of every limit
(ADR 0022).

Over budget is a 429 with `Retry-After`: the seconds until enough of the window expires, or until
the next UTC midnight for the daily spend.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.llm.gateway.errors import GatewayError

__all__ = ["BudgetLedger", "Reservation", "WINDOW_SECONDS"]

WINDOW_SECONDS = 60.0


@dataclass
class Reservation:
    tenant: str
    tokens: int
    spend: float
    settled: bool = False


@dataclass
class _Account:
    tokens_per_minute: int
    spend_per_day: float
    events: deque = field(default_factory=deque)  # (monotonic time, tokens) of settled requests
    window_tokens: int = 0
    reserved_tokens: int = 0
    day: str = ""
    day_spend: float = 0.0
    reserved_spend: float = 0.0


class BudgetLedger:
    def __init__(self, limits: dict[str, tuple[int, float]], *, share: float = 1.0, clock=time.monotonic, now=None):
        """limits: tenant -> (tokens per minute, spend per day); `share` is this replica's part of each."""
        self._accounts = {t: _Account(max(1, int(tpm * share)), spd * share) for t, (tpm, spd) in limits.items()}
        self._clock = clock
        self._now = now or (lambda: datetime.now(UTC))

    def _expire(self, account: _Account) -> None:
        horizon = self._clock() - WINDOW_SECONDS
        while account.events and account.events[0][0] <= horizon:
            account.window_tokens -= account.events.popleft()[1]
        today = self._now().date().isoformat()
        if account.day != today:
            account.day, account.day_spend = today, 0.0

    def admit(self, tenant: str, tokens: int, spend: float) -> Reservation:
        """Reserve or raise a 429 naming the budget and when to retry."""
        account = self._accounts[tenant]
        self._expire(account)
        if account.window_tokens + account.reserved_tokens >= account.tokens_per_minute:
            raise GatewayError(
                429,
                f"tenant {tenant!r} is over its budget of {account.tokens_per_minute} tokens per minute",
                None,
                "tokens_per_minute_exceeded",
                ((b"retry-after", str(self._retry_tokens(account)).encode()),),
            )
        if account.day_spend + account.reserved_spend >= account.spend_per_day:
            raise GatewayError(
                429,
                f"tenant {tenant!r} is over its budget of {account.spend_per_day:g} per day",
                None,
                "spend_per_day_exceeded",
                ((b"retry-after", str(self._retry_day()).encode()),),
            )
        account.reserved_tokens += tokens
        account.reserved_spend += spend
        return Reservation(tenant, tokens, spend)

    def settle(self, reservation: Reservation, tokens: int, spend: float) -> None:
        """Replace the reservation by what the request really used (0 and 0 when it failed)."""
        if reservation.settled:
            return
        reservation.settled = True
        account = self._accounts[reservation.tenant]
        account.reserved_tokens -= reservation.tokens
        account.reserved_spend -= reservation.spend
        self._expire(account)
        if tokens:
            account.events.append((self._clock(), tokens))
            account.window_tokens += tokens
        account.day_spend += spend

    def usage(self, tenant: str) -> tuple[int, float]:
        """Tokens in the current window and spend today, settled."""
        account = self._accounts[tenant]
        self._expire(account)
        return account.window_tokens, account.day_spend

    def _retry_tokens(self, account: _Account) -> int:
        """Seconds until enough settled tokens leave the window to admit a request again."""
        excess = account.window_tokens + account.reserved_tokens - account.tokens_per_minute + 1
        freed, when = 0, None
        for stamp, tokens in account.events:
            freed, when = freed + tokens, stamp
            if freed >= excess:
                break
        if when is None:
            return 1  # only in-flight reservations hold the budget: they settle within a request's time
        return max(1, math.ceil(when + WINDOW_SECONDS - self._clock()))

    def _retry_day(self) -> int:
        now = self._now()
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return max(1, math.ceil((midnight - now).total_seconds()))
