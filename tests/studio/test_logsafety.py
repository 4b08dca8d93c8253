"""Library log records never carry a SAS signature or a signed-request secret."""

from __future__ import annotations

import logging

from studio.logsafety import redact_url_secrets


def test_sas_signatures_and_aws_signatures_are_masked():
    line = 'GET /c?restype=container&se=2026&sp=rwdl&sig=AbC%2Bd%3D HTTP/1.1" 200'
    assert "AbC%2Bd%3D" not in redact_url_secrets(line)
    assert "sig=REDACTED" in redact_url_secrets(line)
    signed = "X-Amz-Credential=AKIA/2026/s3&X-Amz-Signature=deadbeef&X-Amz-Date=1"
    out = redact_url_secrets(signed)
    assert "deadbeef" not in out and "AKIA" not in out and "X-Amz-Date=1" in out
    header = "{'Authorization': 'AWS4-HMAC-SHA256 Credential=x, Signature=abc'}"
    assert "abc" not in redact_url_secrets(header)


def test_urllib3_debug_lines_are_masked_at_any_level(caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s', "http", "h", 1, "GET", "/c?sig=TOPSECRET", "HTTP/1.1", 200, 0
    )
    # Masked by our filter (sig=REDACTED), or first by mlflow's own urllib3 filter when mlflow
    # was imported in this process (sig=[REDACTED]): either way the secret is gone.
    assert "TOPSECRET" not in caplog.text
    assert "REDACTED" in caplog.text
