"""The Infor plugin's log patterns mask ION API credential shapes nobody registered."""

import pytest

from bridge_pipelines.erps import registry
from bridge_pipelines.redaction import redact

pytestmark = pytest.mark.contract


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOi.abc-123_x", "eyJhbGciOi.abc-123_x"),
        ('{"access_token": "tok-Abc123", "expires_in": 7200}', "tok-Abc123"),
        ("grant_type=refresh_token&refresh_token=rt-998877&client_id=T~app", "rt-998877"),
        ("client_id=T~app&client_secret=cs-Secret9&grant_type=password", "cs-Secret9"),
        ("username=T#KEY&password=sask-Secret7", "sask-Secret7"),
        ('{"ci": "T~app", "cs": "cs-Secret9", "sask": "sask-Secret7"}', "cs-Secret9"),
        ('{"ci": "T~app", "cs": "cs-Secret9", "sask": "sask-Secret7"}', "sask-Secret7"),
    ],
)
def test_ion_api_credentials_are_masked_in_any_log_line(line: str, secret: str) -> None:
    registry.plugins()
    masked = redact(line)
    assert secret not in masked and "***" in masked
