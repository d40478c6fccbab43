"""The `sftp:` section's own rules."""

import pytest
from pydantic import ValidationError

from bridge_pipelines.sftp.settings import MAX_FILE_BYTES, SftpConfig

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def _cfg(**values: object) -> SftpConfig:
    base: dict[str, object] = {
        "host": "sftp.example.com",
        "username": "stampli",
        "host_key": HOST_KEY,
        "password": "enc:v1:k1:AAAA",
    }
    return SftpConfig.model_validate(base | values)


def test_max_file_bytes_has_an_upper_bound_parsing_can_afford() -> None:
    assert _cfg().max_file_bytes == 200 * 1024 * 1024
    assert _cfg(max_file_bytes=MAX_FILE_BYTES).max_file_bytes == 256 * 1024 * 1024
    with pytest.raises(ValidationError, match="max_file_bytes") as caught:
        _cfg(max_file_bytes=10 * 1024**3)
    assert "less than or equal to 268435456" in str(caught.value)
