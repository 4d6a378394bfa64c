"""The certificate material of a TLS block, named alike by Alloy's otelcol server blocks and by
Prometheus's `tls_config`: each of the CA, the certificate and its key inline as PEM or in a file.
Each block adds its own settings and rules (which pairs exclude each other, version spellings)."""

from __future__ import annotations

import msgspec

from collector.config.values import Secret


class CertificateFiles(msgspec.Struct, frozen=True, kw_only=True):
    ca_file: str = ""
    ca_pem: str = ""
    cert_file: str = ""
    cert_pem: str = ""
    key_file: str = ""
    key_pem: Secret | None = None
