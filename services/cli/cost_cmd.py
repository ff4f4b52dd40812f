"""`mlplat cost`: showback per tenant and model, priced with the blueprint's unit prices."""

from __future__ import annotations

import argparse
import json
import urllib.error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cost", help="requested (and measured) resources and their price per tenant")
    parser.add_argument("--blueprint", help="shipped name or path [the dev stack's blueprint]")
    parser.add_argument(
        "--prometheus",
        default="http://127.0.0.1:9090",
        help="Prometheus to read measured usage from; skipped when unreachable [%(default)s]",
    )
    parser.add_argument("--window", default="15m", help="usage averaging window [15m]")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=_cost)


def _cost(args: argparse.Namespace) -> int:
    from services.cost import (
        attach_llm_spend,
        attach_usage,
        query_llm_spend,
        query_usage,
        requested_costs,
        tenant_totals,
    )
    from services.deploy.selection import selected_blueprint

    name, blueprint = selected_blueprint(args.blueprint)
    from infra.render import render_blueprint

    costs = blueprint.platform.costs
    lines = requested_costs(render_blueprint(name).manifests, costs)
    totals = tenant_totals(lines, costs)
    usage_note = ""
    try:
        attach_usage(totals, query_usage(args.prometheus, args.window))
    except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
        usage_note = f"measured usage unavailable ({args.prometheus}: {exc}); showing requests only"
    if blueprint.platform.llm is not None:  # LLM tokens at showback prices, as the gateway counted them
        try:
            attach_llm_spend(totals, query_llm_spend(args.prometheus, args.window), args.window)
        except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
            usage_note += f"{'; ' if usage_note else ''}LLM spend unavailable ({args.prometheus}: {exc})"
    if args.json:
        print(
            json.dumps(
                {
                    "blueprint": blueprint.metadata.name,
                    "currency": costs.currency,
                    "models": [line.as_dict() for line in lines],
                    "tenants": [total.as_dict() for total in totals],
                    "note": usage_note or None,
                },
                indent=2,
            )
        )
        return 0
    print(
        f"Showback for blueprint {blueprint.metadata.name} ({costs.currency} per month, 730 h; "
        f"{costs.cpu_core_hour}/core-h, {costs.memory_gib_hour}/GiB-h, {costs.storage_gib_month}/GiB-month)"
    )
    header = (
        f"{'tenant':<16} {'model':<16} {'cpu req':>8} {'mem req':>9} {'storage':>8} {'monthly':>9} "
        f"{'cpu used':>9} {'req/use':>8} {'llm/month':>10}"
    )
    print(header)
    print("-" * len(header))
    for line in [*lines, None, *totals]:
        if line is None:
            print("-" * len(header))
            continue
        used = "" if line.used_cpu_cores is None else f"{line.used_cpu_cores:.3f}"
        ratio = "" if line.cpu_ratio is None else f"{line.cpu_ratio}x"
        llm = "" if line.llm_monthly is None else f"{line.llm_monthly:.2f}"
        print(
            f"{line.tenant:<16} {line.model or '-':<16} {line.cpu_cores:>8.3f} "
            f"{float(line.memory_bytes) / 2**30:>7.2f}Gi {float(line.storage_bytes) / 2**30:>6.1f}Gi "
            f"{line.monthly:>9.2f} {used:>9} {ratio:>8} {llm:>10}"
        )
    if blueprint.platform.llm is not None:
        print(
            f"llm/month: each tenant's LLM tokens at showback prices over the last {args.window}, "
            "at that rate for a month"
        )
    if usage_note:
        print(usage_note)
    return 0
