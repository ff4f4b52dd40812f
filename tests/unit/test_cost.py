"""Cost showback: requests priced per tenant and model; measured usage shows over-provisioning."""

from __future__ import annotations

import json
from decimal import Decimal

from blueprints import load
from services.cli import main
from services.cost import PLATFORM, attach_usage, requested_costs, tenant_totals
from tests.infra.conftest import rendered


def _lines(name="multi-tenant"):
    return requested_costs(rendered(name).manifests, load(name).platform.costs)


def test_each_model_is_charged_for_its_requests_times_replicas():
    scorer = next(line for line in _lines() if line.model == "fraud-scorer")
    assert scorer.tenant == "fraud"
    assert scorer.cpu_cores == Decimal("0.4")  # 2 replicas x 200m
    assert scorer.memory_bytes == 2 * 384 * 2**20
    # 0.4 core x 0.0316 x 730 h + 0.75 GiB x 0.0042 x 730 h
    assert scorer.monthly == Decimal("11.53")


def test_platform_services_are_their_own_line_with_the_registry_and_monitoring_volumes():
    platform = next(line for line in _lines() if line.tenant == PLATFORM)
    assert platform.cpu_cores > 0
    assert platform.storage_bytes >= 2 * 2**30  # the registry database volume at least


def test_dedicated_registry_is_charged_to_its_tenant():
    clinical = tenant_totals(_lines("enterprise"), load("enterprise").platform.costs)
    totals = {t.tenant: t for t in clinical}
    assert totals["clinical"].storage_bytes >= 5 * 2**30  # its own database volume
    assert totals["clinical"].cpu_cores > totals["marketing"].cpu_cores


def test_usage_beside_requests_shows_the_over_provisioning_ratio():
    totals = tenant_totals(_lines(), load("multi-tenant").platform.costs)
    attach_usage(totals, {"fraud/": {"cpu": Decimal("0.1"), "memory": Decimal(256 * 2**20)}})
    fraud = next(t for t in totals if t.tenant == "fraud")
    assert fraud.cpu_ratio == Decimal("4.0")
    assert fraud.memory_ratio == Decimal("3.0")
    assert next(t for t in totals if t.tenant == "recsys").cpu_ratio is None


def test_cost_command_prints_json_and_says_when_usage_is_unavailable(capsys):
    assert main(["cost", "--blueprint", "multi-tenant", "--json", "--prometheus", "http://127.0.0.1:1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {t["tenant"] for t in report["tenants"]} == {"fraud", "recsys", "forecasting", PLATFORM}
    assert "measured usage unavailable" in report["note"]


def test_llm_spend_sits_beside_a_tenants_compute_with_a_month_at_that_rate():
    from decimal import Decimal

    from services.cost import attach_llm_spend

    totals = tenant_totals(_lines("llm"), load("llm").platform.costs)
    attach_llm_spend(totals, {"support": Decimal("0.25"), "research": Decimal("1")}, "15m")
    by_tenant = {t.tenant: t for t in totals}
    assert by_tenant["support"].llm_spend == Decimal("0.25")
    assert by_tenant["support"].llm_monthly == Decimal("730.00")  # 0.25 per 15 minutes, 2920 quarter-hours
    assert by_tenant["research"].as_dict()["llm_monthly"] == 2920.0
    assert by_tenant["genai"].llm_spend is None  # it serves LLMs; its callers pay for the tokens
