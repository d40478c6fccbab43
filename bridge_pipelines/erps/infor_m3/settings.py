"""Infor CloudSuite (M3)'s `erp:` block of a tenant file: the `.ionapi` file, company, division.

`ca_bundle`, the rate limit and the TLS rules are every connector's (`erps/settings.py`).
"""

from typing import Literal

from pydantic import Field

from bridge_pipelines.erps.settings import EncryptedSecret, ErpSettings


class InforM3ErpSettings(ErpSettings):
    """`ionapi` is the whole `.ionapi` file, sealed; `company` is M3's CONO.

    `username`/`password`, when set, replace the file's service account (`saak`/`sask`): a
    service account's keys can be rotated without reissuing the app's file. `base_url` and
    `sso_url`, when set, replace the file's ION API root (`iu`) and its authorization server
    (`pu`): the tenant file then shows (and `bridge tenants check` checks) where we connect.
    """

    kind: Literal["infor_m3"] = "infor_m3"
    ionapi: EncryptedSecret | None = Field(
        None,
        description="Infor M3: the ION API Gateway's `.ionapi` credentials file (JSON), "
        "encrypted whole with `bridge secrets encrypt --field erp.ionapi`.",
    )
    sso_url: str | None = Field(
        None,
        description="Infor M3: the ION authorization server (the .ionapi file's `pu`, ending "
        "in `/as/`); unset, the file's.",
    )
    division: str | None = Field(
        None,
        min_length=1,
        max_length=3,
        description="Infor M3: the division (DIVI) invoices and payments are booked in.",
    )
