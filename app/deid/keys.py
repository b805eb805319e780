"""Replacement values derived from one key: UIDs, pseudonyms, date offsets.

Every replacement is an HMAC-SHA256 of the original under the export's key,
so one map holds for a whole export, in every worker process, without
sharing state: a new random key per export gives a random map; a caller's
secret (research staging) gives the same map every time.

* UIDs: ``2.25.<128-bit integer>`` (PS3.5 B.2: a UUID as a decimal integer
  under the 2.25 root), at most 44 characters.
* Pseudonyms: ``ANON`` and 10 characters of base32, one per patient.
* Date offsets: a whole number of days between -3650 and -365, one per patient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Optional

UID_ROOT = "2.25."
PSEUDONYM_PREFIX = "ANON"


class Keyring:
    def __init__(self, secret: Optional[bytes] = None):
        if isinstance(secret, str):  # a secret kept as text (a project's settings): its UTF-8
            secret = secret.encode("utf-8")
        if secret is not None and not isinstance(secret, (bytes, bytearray)):
            raise TypeError("secret: bytes expected")
        self.deterministic = secret is not None
        self.key = bytes(secret) if secret is not None else os.urandom(32)
        self._uids: dict[str, str] = {}

    def _digest(self, purpose: str, value: str) -> bytes:
        # surrogateescape: a file path that is not valid UTF-8 hashes by its bytes
        data = f"{purpose}\x00{value}".encode("utf-8", "surrogateescape")
        return hmac.new(self.key, data, hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """The replacement of *original* (the same for the same key)."""
        original = original.strip("\x00 ")
        known = self._uids.get(original)
        if known is None:
            number = int.from_bytes(self._digest("uid", original)[:16], "big")
            known = self._uids[original] = UID_ROOT + str(number)
        return known

    @property
    def uid_map(self) -> dict[str, str]:
        """Every UID replaced so far in this process: original -> replacement."""
        return self._uids

    def pseudonym(self, patient: str) -> str:
        text = base64.b32encode(self._digest("patient", patient)).decode("ascii")
        return PSEUDONYM_PREFIX + text[:10]

    def date_offset(self, patient: str) -> int:
        number = int.from_bytes(self._digest("date", patient)[:4], "big")
        return -(365 + number % 3286)
