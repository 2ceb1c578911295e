"""`flask filings …` (docs/operations.md "Command line")."""
from __future__ import annotations

import click
from flask.cli import AppGroup

filings_cli = AppGroup("filings", help="Filings (备案) and their risk checks.")


@filings_cli.command("cross-county")
@click.option("--region", "region_code", default=None, help="a city's or province's code (default: everywhere)")
def cross_county(region_code):
    """Flag, set-based, every payout account or phone shared by households listed for the same
    subsidy type and year in two counties (lists under review only). Idempotent: run nightly."""
    from subsidy.common.jobs import run_cron_job
    from subsidy.filings.cross_county import sweep
    from subsidy.regions.scope import normalize_code

    code = normalize_code(region_code) if region_code else None
    result = run_cron_job(lambda: sweep(code), "filings cross-county")
    click.echo(", ".join(f"{key} {value}" for key, value in result.items()))
