"""Keep credentials that libraries put in URLs out of the logs.

urllib3 logs every request line at DEBUG ("GET /container?...&sig=<SAS signature> HTTP/1.1"),
and the Azure and AWS SDKs log URLs and headers that can carry a SAS signature or a signed
request. The filter below masks those parameters in every record of those loggers, whatever
the level or handler (a logger's own filters run before any handler sees the record).
"""

from __future__ import annotations

import logging
import re

# Query parameters and header fields that are secret in a URL or a signed request.
_SECRET_PARAMS = re.compile(
    r"(?i)\b(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|"
    r"awsaccesskeyid|sharedaccesssignature|accountkey)=([^&\s\"',;]+)"
)
_AUTH_HEADER = re.compile(r"(?i)(['\"]?authorization['\"]?\s*[:=]\s*['\"]?)([^'\",\n]+)")

# The loggers of the libraries the storage layer uses (record filters do not propagate to
# child loggers, so each logger that emits is named).
GUARDED_LOGGERS = (
    "urllib3.connectionpool",
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.storage.blob",
    "adlfs",
    "botocore.endpoint",
    "botocore.auth",
    "botocore.parsers",
    "botocore.httpsession",
    "s3fs",
    "fsspec",
)


def redact_url_secrets(text: str) -> str:
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=REDACTED", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}REDACTED", text)


class RedactUrlSecrets(logging.Filter):
    """Rewrites a record's message with URL secrets masked. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return True
        redacted = redact_url_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install() -> None:
    """Attach the filter to every guarded logger (idempotent)."""
    for name in GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactUrlSecrets) for f in logger.filters):
            logger.addFilter(RedactUrlSecrets())
