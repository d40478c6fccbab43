"""pandera schemas as blocking asset checks, evaluated inside the intake step.

Two checks per Stampli asset:
- `schema` (ERROR, blocking): the canonical rows we accepted satisfy the pandera model. A failure
  here is a bug on our side and stops everything downstream (postings) for the partition.
- `source_rows` (WARN): rows of the tenant's files we refused, each located by file, row and
  field. The good documents of those files still flow, so this warns rather than blocks.
"""

from collections.abc import Mapping

import dagster as dg

from bridge_pipelines.defs.metadata import failures_table
from bridge_pipelines.intake.process import KindReport
from bridge_pipelines.stampli.parse import RowError
from bridge_pipelines.stampli.schemas import validate_frame

SCHEMA_CHECK = "schema"
SOURCE_ROWS_CHECK = "source_rows"


def check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """Declared on the asset so the checks show (and block) before the first run."""
    return [
        dg.AssetCheckSpec(
            SCHEMA_CHECK,
            asset=key,
            blocking=True,
            description="Canonical rows satisfy the pandera schema (strict); blocks postings.",
        ),
        dg.AssetCheckSpec(
            SOURCE_ROWS_CHECK,
            asset=key,
            blocking=True,
            description="Rows refused from the tenant's files, located by file/row/field (warns).",
        ),
    ]


def check_results(
    key: dg.AssetKey,
    report: KindReport,
    names: Mapping[tuple[str, str], str] | None = None,
) -> list[dg.AssetCheckResult]:
    """Both checks for one intake pass, with located failures in their metadata.

    `names`: (file, document label) -> the invoice's name (`stampli.naming`), for refused rows.
    """
    schema_failures: list[RowError] = []
    for frame in report.frames:
        if frame.height:
            source = str(frame.get_column("source_file")[0])
            schema_failures.extend(validate_frame(report.kind, frame, source=source))
    return [
        dg.AssetCheckResult(
            asset_key=key,
            check_name=SCHEMA_CHECK,
            passed=not schema_failures,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rows_checked": sum(f.height for f in report.frames),
                "failures": len(schema_failures),
                "failure_cases": dg.MetadataValue.md(failures_table(schema_failures)),
            },
        ),
        dg.AssetCheckResult(
            asset_key=key,
            check_name=SOURCE_ROWS_CHECK,
            passed=not report.row_errors and not _quarantined(report),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_refused": len(report.row_errors),
                "files_quarantined": dg.MetadataValue.json(_quarantined(report)),
                "failure_cases": dg.MetadataValue.md(failures_table(report.row_errors, names)),
            },
        ),
    ]


def _quarantined(report: KindReport) -> list[str]:
    return [f"{f.name}: {f.reason}" for f in report.files if f.state == "quarantined"]
