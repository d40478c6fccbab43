"""Throwaway Books' `erp:` block: the shared fields plus the book bills are posted to."""

from typing import Literal

from pydantic import Field

from bridge_pipelines.erps.settings import ErpSettings


class ThrowawayErpSettings(ErpSettings):
    """`base_url` is the API root (`http://host:port/api`), `username` the API user."""

    kind: Literal["throwaway"] = "throwaway"
    throwaway_book: str = Field(
        "MAIN", min_length=1, max_length=8, description="Throwaway: the book bills go to."
    )
