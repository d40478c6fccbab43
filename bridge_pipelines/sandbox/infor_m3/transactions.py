"""M3 transactions: input checked against the field table, then the program's business rules.

`HANDLERS` maps (program, transaction) to its handler (`batches`, `payments`, `suppliers`);
the app checks the record (`inputs.check_fields`) and answers one v2 result: `{"transaction": T,
"records": [...]}` or the failure fields `errorMessage`, `errorType`, `errorCode`,
`errorField` [C shape]. Each transaction is its own database transaction: a refused one
writes nothing, and a bulk request commits each transaction separately (M3 runs them one by
one; nothing rolls back an earlier one) [I].

Messages and error codes of refusals are [I] unless noted.
"""

from collections.abc import Callable

from bridge_pipelines.sandbox.infor_m3 import batches, payments, suppliers
from bridge_pipelines.sandbox.infor_m3.inputs import Context, Nok, Row, check_fields

__all__ = ["HANDLERS", "Context", "Handler", "Nok", "Row", "check_fields"]

Handler = Callable[[Context, Row], list[Row]]
HANDLERS: dict[tuple[str, str], Handler] = {
    **batches.HANDLERS,
    **payments.HANDLERS,
    **suppliers.HANDLERS,
}
