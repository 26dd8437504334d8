"""Web masks of an export v2: downloaded only when enabled, with the Labelbox API key sent only
where it belongs; refused and expired URLs name the object. Served by a local ``http.server`` on
127.0.0.1, never the internet."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from napari_segtool.formats.labelbox_ndjson import (
    API_KEY_ENV,
    Fetcher,
    LabelboxFormatError,
    read_export,
)
from tests.mask_server import KEY, MaskServer

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
EXPORT = "export_v2.fish.ndjson"
FIRST = "cjxtm2d32i9aa07940tifrpuh"
AREAS = [450, 341, 250, 10479]


@pytest.fixture
def server() -> Iterator[MaskServer]:
    served = MaskServer()
    yield served
    served.close()


@pytest.fixture
def folder(tmp_path) -> Path:
    target = tmp_path / "export"
    target.mkdir()
    shutil.copy(REFERENCE / "tank.png", target / "tank.png")
    shutil.copy(REFERENCE / "ontology.fish.json", target / "ontology.fish.json")
    return target


def export_with_mask_url(folder: Path, url: str) -> Path:
    row = json.loads((REFERENCE / EXPORT).read_text())
    project = row["projects"]["ck0fishproject0000000001"]
    for obj in project["labels"][0]["annotations"]["objects"]:
        obj["composite_mask"]["url"] = url
    path = folder / EXPORT
    path.write_text(json.dumps(row) + "\n")
    return path


def read_from(path: Path, **options):
    return read_export(path, allow_download=True, key_hosts=("127.0.0.1",), **options)


def test_a_composite_is_downloaded_once_with_the_key(server, folder):
    path = export_with_mask_url(folder, f"{server.url}/masks/1")
    (row,) = read_from(path, api_key=KEY)
    assert np.bincount(row.layers[0].labels.ravel()).tolist()[1:] == AREAS
    assert server.seen == [("/masks/1", f"Bearer {KEY}")]  # one request for four objects


def test_the_key_comes_from_the_environment(server, folder, monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, KEY)
    path = export_with_mask_url(folder, f"{server.url}/masks/1")
    (row,) = read_from(path)
    assert len(row.layers[0].document) == 4


def test_without_downloading_enabled_nothing_is_requested(server, folder):
    path = export_with_mask_url(folder, f"{server.url}/masks/1")
    with pytest.raises(LabelboxFormatError, match="downloaded only when downloading is enabled"):
        read_export(path, api_key=KEY, key_hosts=("127.0.0.1",))
    assert server.seen == []


def test_the_key_is_not_sent_to_hosts_that_are_not_labelbox(server, folder):
    path = export_with_mask_url(folder, f"{server.url}/masks/1")
    with pytest.raises(LabelboxFormatError) as caught:
        read_export(path, allow_download=True, api_key=KEY)  # default hosts: labelbox.com
    assert server.seen == [("/masks/1", None)]
    message = str(caught.value)
    assert FIRST in message and "HTTP 401" in message and API_KEY_ENV in message


def test_an_expired_url_is_an_error_naming_the_object(server, folder):
    path = export_with_mask_url(folder, f"{server.url}/expired")
    with pytest.raises(LabelboxFormatError) as caught:
        read_from(path, api_key=KEY)
    message = str(caught.value)
    assert str(path) in message and FIRST in message and "3 other object(s)" in message
    assert "HTTP 403" in message and "expired" in message and "export again" in message


def test_a_missing_url_is_an_error_naming_the_object(server, folder):
    path = export_with_mask_url(folder, f"{server.url}/masks/gone")
    with pytest.raises(LabelboxFormatError, match=f"object {FIRST}.*HTTP 404.*expired"):
        read_from(path, api_key=KEY)


def test_a_refused_connection_is_an_error_naming_the_object(folder):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = export_with_mask_url(folder, f"http://127.0.0.1:{port}/masks/1")
    with pytest.raises(LabelboxFormatError, match=f"object {FIRST}.*cannot download"):
        read_from(path, api_key=KEY)


def test_a_redirect_does_not_carry_the_key(folder):
    elsewhere = MaskServer()
    try:
        # "localhost" is another host name than 127.0.0.1, as another machine would be
        port = elsewhere.httpd.server_address[1]
        first = MaskServer(redirect_to=f"http://localhost:{port}/open")
        try:
            path = export_with_mask_url(folder, f"{first.url}/redirect")
            (row,) = read_from(path, api_key=KEY)
            assert len(row.layers[0].document) == 4
            assert first.seen == [("/redirect", f"Bearer {KEY}")]
            assert elsewhere.seen == [("/open", None)]
        finally:
            first.close()
    finally:
        elsewhere.close()


@pytest.mark.parametrize(
    "url, gets_key",
    [
        ("https://api.labelbox.com/api/v1/tasks/t/masks/m/index/1", True),
        ("https://labelbox.com/mask", True),
        ("http://api.labelbox.com/mask", False),  # never in clear text to another machine
        ("https://labelbox.com.example.org/mask", False),
        ("https://example.org/labelbox.com", False),
        ("https://evil-labelbox.com/mask", False),
    ],
)
def test_which_urls_get_the_key(url, gets_key, tmp_path):
    fetcher = Fetcher(tmp_path, allow_download=True, api_key=KEY)
    assert (fetcher.key_for(url) == KEY) is gets_key


def test_no_key_no_header(tmp_path, monkeypatch):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    fetcher = Fetcher(tmp_path, allow_download=True)
    assert fetcher.key_for("https://api.labelbox.com/x") is None


def test_a_web_image_is_downloaded_when_enabled(server, folder):
    path = export_with_mask_url(folder, f"{server.url}/masks/1")
    row = json.loads(path.read_text())
    row["data_row"]["row_data"] = f"{server.url}/open"  # serves a 128 x 96 RGB PNG
    path.write_text(json.dumps(row) + "\n")
    (read,) = read_from(path, api_key=KEY)
    assert read.image is not None and read.image.shape == (96, 128, 3)


def test_an_import_s_web_composite_is_downloaded_as_an_export_s(server, folder):
    """An import line's ``instanceURI`` + ``colorRGB`` follows the same download rule."""
    row = json.loads((REFERENCE / EXPORT).read_text())
    objects = row["projects"]["ck0fishproject0000000001"]["labels"][0]["annotations"]["objects"]
    lines = [
        {
            "uuid": f"00000000-0000-4000-8000-00000000000{n}",
            "dataRow": {"globalKey": "tank.png"},
            "name": obj["name"],
            "schemaId": obj["feature_schema_id"],
            "mask": {
                "instanceURI": f"{server.url}/masks/1",
                "colorRGB": obj["composite_mask"]["color_rgb"],
            },
        }
        for n, obj in enumerate(objects)
    ]
    path = folder / "tank.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (row,) = read_from(path, api_key=KEY)
    assert row.image is not None  # the global key names the image beside the file
    assert np.bincount(row.layers[0].labels.ravel()).tolist()[1:] == AREAS
    assert server.seen == [("/masks/1", f"Bearer {KEY}")]
