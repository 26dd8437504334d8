"""The bytes behind a mask or image reference of an export: a local file or a web address.

Local references (paths and ``file://`` URIs) are relative to the export's
folder and must lie in it or below (the rule of the v1 reader). Web addresses
are fetched only when downloading is enabled. Labelbox mask URLs
(``https://api.labelbox.com/...``) need the API key as ``Authorization: Bearer
<key>``; the key (``api_key``, else the ``LABELBOX_API_KEY`` environment
variable) is sent only to the hosts in ``key_hosts`` (Labelbox's, by default)
over https (plain http only to this machine), and never along a redirect, so
an export cannot send it elsewhere.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from napari_segtool.formats.labelbox_v1.common import DOWNLOAD_SCHEMES
from napari_segtool.formats.labelbox_v1.paths import PathRefusedError, contained_path

API_KEY_ENV = "LABELBOX_API_KEY"
#: hosts (and their subdomains) that get the API key
LABELBOX_HOSTS = ("labelbox.com",)
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class FetchError(ValueError):
    """A reference whose bytes cannot be had; the message says why (the caller names the object)."""


@dataclass(frozen=True)
class Fetcher:
    """Reads the files and URLs an export references."""

    folder: Path
    allow_download: bool = False
    api_key: str | None = None
    key_hosts: tuple[str, ...] = LABELBOX_HOSTS
    timeout: float = 60.0

    def is_web(self, reference: str) -> bool:
        return reference.startswith(DOWNLOAD_SCHEMES)

    def local(self, reference: str, field: str) -> Path:
        """The contained local file ``reference`` names (:class:`FetchError` if refused)."""
        try:
            return contained_path(self.folder, reference, field)
        except PathRefusedError as err:
            raise FetchError(str(err)) from None

    def read(self, reference: str, field: str) -> tuple[bytes, str]:
        """``(bytes, name to show)`` of a local file or, when enabled, a web address."""
        if self.is_web(reference):
            if not self.allow_download:
                raise FetchError(
                    f"{reference} is a web address; it is downloaded only when downloading "
                    f"is enabled (the dock's 'Download web masks' box, with the API key in "
                    f"{API_KEY_ENV})"
                )
            return self.download(reference), reference
        path = self.local(reference, field)
        try:
            if not path.exists():
                raise FetchError(f"{path} is missing")
            if not path.is_file():  # a folder, or a FIFO that would block the read
                raise FetchError(f"{path} is not a regular file")
            if path.stat().st_size > MAX_DOWNLOAD_BYTES:
                raise FetchError(f"{path} is larger than {MAX_DOWNLOAD_BYTES} bytes")
            return path.read_bytes(), str(path)
        except OSError as err:
            raise FetchError(f"cannot read {path} ({err.strerror or err})") from None

    def key_for(self, url: str) -> str | None:
        """The API key, if this URL may receive it."""
        key = self.api_key if self.api_key is not None else os.environ.get(API_KEY_ENV)
        if not key:
            return None
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        trusted = any(host == h or host.endswith("." + h) for h in self.key_hosts)
        secure = parts.scheme == "https" or host in _LOOPBACK
        return key if trusted and secure else None

    def download(self, url: str) -> bytes:
        request = urllib.request.Request(url)
        key = self.key_for(url)
        if key is not None:  # unredirected: a redirect to another host does not carry it
            request.add_unredirected_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read(MAX_DOWNLOAD_BYTES + 1)
        except urllib.error.HTTPError as err:
            raise FetchError(self._refused(url, err.code, key is not None)) from None
        except (OSError, http.client.HTTPException) as err:
            reason = getattr(err, "reason", err)
            raise FetchError(f"cannot download {url} ({reason})") from None
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise FetchError(f"{url} is larger than {MAX_DOWNLOAD_BYTES} bytes")
        return data

    def _refused(self, url: str, code: int, sent_key: bool) -> str:
        status = f"HTTP {code} {http.client.responses.get(code, '')}".rstrip()
        if code in (401, 403):
            if not sent_key:
                return (
                    f"{url} was refused ({status}): Labelbox mask URLs need the API key; "
                    f"set {API_KEY_ENV}"
                )
            return (
                f"{url} was refused ({status}): the URL has expired (Labelbox mask URLs work "
                "for 30 days: export again) or the API key is not valid for it"
            )
        if code in (404, 410):
            return f"{url} was not found ({status}): the URL may have expired; export again"
        return f"{url} could not be downloaded ({status})"
