"""RequestPreview: the exact request, and a curl line that parses back to it."""

from __future__ import annotations

import json
import shlex

import httpx

from workbench.core.preview import RequestPreview


def parse_curl(command: str) -> dict:
    """Read a curl command line back the way a shell would."""
    args = shlex.split(command.replace("\\\n", ""), comments=True)
    assert args[0] == "curl"
    parsed: dict = {"method": "GET", "headers": [], "body": None, "url": None}
    i = 1
    while i < len(args):
        arg = args[i]
        if arg == "-X":
            parsed["method"] = args[i + 1]
            i += 2
        elif arg == "-H":
            name, _, value = args[i + 1].partition(": ")
            parsed["headers"].append((name, value))
            i += 2
        elif arg in ("--data-raw", "--data-binary"):
            parsed["body"] = args[i + 1]
            i += 2
        elif arg == "--head":
            parsed["method"] = "HEAD"
            i += 1
        elif arg == "--globoff":
            i += 1
        else:
            parsed["url"] = arg
            i += 1
    return parsed


def test_curl_round_trip_with_hostile_characters():
    body = {"name": "it's \"quoted\" $HOME `id` \\ ; rm -rf / #", "labels": {"k": "v\nnewline"},
            "unicode": "образ 画像"}
    request = httpx.Request(
        "PATCH",
        "https://glance.test/v2/images/a%20b?x=1&y=$(id)",
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch",
                 "X-Note": "single ' and double \" quotes", "X-Auth-Token": "gAAAAAsecret"},
        content=json.dumps(body).encode(),
    )
    preview = RequestPreview.from_httpx(request)
    for multiline in (False, True):
        parsed = parse_curl(preview.to_curl(multiline=multiline))
        assert parsed["method"] == "PATCH"
        assert parsed["url"] == "https://glance.test/v2/images/a%20b?x=1&y=$(id)"
        assert json.loads(parsed["body"]) == body
        headers = dict(parsed["headers"])
        assert headers["Content-Type"] == "application/openstack-images-v2.1-json-patch"
        assert headers["X-Note"] == "single ' and double \" quotes"
        assert headers["X-Auth-Token"] == "***"
        assert "Content-Length" not in headers and "Host" not in headers


def test_get_without_body_has_no_method_flag_and_head_uses_head():
    get = RequestPreview.from_httpx(httpx.Request("GET", "https://b.test/supportedimages?$filter=osType eq 'linux'"))
    line = get.to_curl()
    assert " -X " not in line
    assert parse_curl(line)["url"] == str(httpx.URL("https://b.test/supportedimages?$filter=osType eq 'linux'"))
    head = RequestPreview.from_httpx(httpx.Request("HEAD", "https://b.test/x"))
    assert parse_curl(head.to_curl())["method"] == "HEAD"


def test_brackets_in_urls_turn_globbing_off():
    preview = RequestPreview("GET", "https://h.test/x?f=[a]{b}")
    assert "--globoff" in shlex.split(preview.to_curl())


def test_binary_body_is_referenced_not_inlined():
    preview = RequestPreview.from_httpx(httpx.Request("PUT", "https://g.test/v2/images/x/file",
                                                      headers={"Content-Type": "application/octet-stream"},
                                                      content=b"\x00\xff\xfe" * 10))
    line = preview.to_curl()
    assert "--data-binary @body.bin" in line and "30 bytes of binary data" in line
    assert parse_curl(line)["body"] == "@body.bin"
    assert preview.json is None and preview.text is None


def test_views():
    request = httpx.Request("POST", "https://y.test/compute/v1/images", json={"folderId": "b1g", "name": "web"})
    preview = RequestPreview.from_httpx(request)
    assert preview.json == {"folderId": "b1g", "name": "web"}
    assert preview.content_type == "application/json"
    assert preview.header("CONTENT-TYPE") == "application/json"
    assert preview.to_dict()["body"] == {"folderId": "b1g", "name": "web"}
    assert str(preview).startswith("POST https://y.test/compute/v1/images\n")
    empty = RequestPreview.from_httpx(httpx.Request("GET", "https://y.test/"))
    assert empty.body is None and empty.json is None


def test_streamed_body_is_not_read():
    async def chunks():
        yield b"data"

    preview = RequestPreview.from_httpx(httpx.Request("PUT", "https://g.test/file", content=chunks()))
    assert preview.body is None
    masked = preview.masked()
    assert masked.is_masked and masked.masked() is masked


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(
    body=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200),
    header=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=60),
    multiline=st.booleans(),
)
def test_curl_round_trip_for_any_text(body, header, multiline):
    request = httpx.Request("POST", "https://h.test/x", headers={"X-Value": header.strip() or "v",
                                                                 "Content-Type": "text/plain"},
                            content=body.encode())
    parsed = parse_curl(RequestPreview.from_httpx(request).to_curl(multiline=multiline))
    assert parsed["body"] == (body or None)  # an empty body is no body
    assert dict(parsed["headers"])["X-Value"] == (header.strip() or "v")
