"""parse_error reads every provider's error shape into one ApiError."""

from __future__ import annotations

import json

import httpx
import pytest

from workbench.core.errors import MAX_MESSAGE, MAX_RAW_TEXT, ApiError, AuthError, parse_error


def response(status: int, body: object = None, *, text: str | None = None, headers: dict | None = None,
             content_type: str = "application/json") -> httpx.Response:
    request = httpx.Request("GET", "https://cloud.test/v2/images/abc", headers={"Authorization": "Bearer tok-secret-1"})
    if text is None:
        text = json.dumps(body)
    return httpx.Response(status, text=text, headers={"content-type": content_type, **(headers or {})},
                          request=request)


def test_arm_error_response():
    body = {"error": {"code": "InvalidParameter", "message": "languageVersion and baseImageName are exclusive",
                      "target": "properties.baseImageName",
                      "details": [{"code": "Conflict", "message": "both given", "target": "properties"}],
                      "additionalInfo": [{"type": "PolicyViolation", "info": {"policy": "p1"}}]}}
    error = parse_error("kusto", response(400, body, headers={"x-ms-request-id": "req-42"}))
    assert type(error) is ApiError
    assert (error.status, error.code, error.target, error.request_id) == (
        400, "InvalidParameter", "properties.baseImageName", "req-42")
    assert error.message == "languageVersion and baseImageName are exclusive"
    assert error.details[0]["code"] == "Conflict" and error.details[1]["type"] == "PolicyViolation"
    assert "Conflict: both given (target: properties)" in error.details_text()
    text = str(error)
    assert text.startswith("kusto: HTTP 400 InvalidParameter: languageVersion and baseImageName are exclusive")
    assert "request id req-42" in text and "GET https://cloud.test/v2/images/abc" in text
    assert error.request.header("authorization") == "Bearer ***"


def test_batch_error():
    body = {"odata.metadata": "https://acct.westus.batch.azure.com/$metadata#Microsoft.Azure.Batch.Protocol.Entities."
                              "Container.errors/@Element",
            "code": "InvalidQueryParameterValue",
            "message": {"lang": "en-US", "value": "Value for one of the query parameters specified in the request URI "
                                                  "is invalid.\nRequestId:4c1c9f05-0a6f-4a86-a1e5-4bd0b3b2a1e1\n"
                                                  "Time:2024-01-01T00:00:00.0000000Z"},
            "values": [{"key": "QueryParameterName", "value": "maxresults"},
                       {"key": "QueryParameterValue", "value": "5000"}]}
    error = parse_error("batch", response(400, body, headers={"request-id": "4c1c9f05"}))
    assert error.code == "InvalidQueryParameterValue"
    assert error.message.startswith("Value for one of the query parameters")
    assert error.request_id == "4c1c9f05"
    assert error.details == body["values"]
    assert "QueryParameterName: maxresults" in error.details_text()
    # without the header, the RequestId in the message is used
    assert parse_error("batch", response(400, body)).request_id == "4c1c9f05-0a6f-4a86-a1e5-4bd0b3b2a1e1"


def test_odata_wrapped_error():
    body = {"odata.error": {"code": "PoolNotFound", "message": {"lang": "en-US", "value": "The pool does not exist."}}}
    error = parse_error("batch", response(404, body))
    assert (error.code, error.message) == ("PoolNotFound", "The pool does not exist.")


def test_glance_json_error_with_html_fragments():
    body = {"message": "The resource could not be found.<br /><br />\nNo image found with ID abc\n\n",
            "code": "404 Not Found", "title": "Not Found"}
    error = parse_error("glance", response(404, body, headers={"x-openstack-request-id": "req-9f1"}))
    assert error.code == "Not Found"
    assert error.message == "The resource could not be found.\nNo image found with ID abc"
    assert error.request_id == "req-9f1"


def test_glance_html_page():
    page = ("<html>\n <head>\n  <title>409 Conflict</title>\n </head>\n <body>\n  <h1>409 Conflict</h1>\n"
            "  There was a conflict when trying to complete your request.<br /><br />\n"
            "Property os_distro does not exist.\n\n\n </body>\n</html>")
    error = parse_error("glance", response(409, text=page, content_type="text/html"))
    assert error.code == "Conflict"
    assert error.message == ("There was a conflict when trying to complete your request.\n"
                             "Property os_distro does not exist.")


def test_glance_plain_text():
    text = "415 Unsupported Media Type\n\nThe request media type application/json is not supported.\n\n"
    error = parse_error("glance", response(415, text=text, content_type="text/plain"))
    assert error.code == "Unsupported Media Type"
    assert error.message == "The request media type application/json is not supported."


def test_keystone_error_is_an_auth_error():
    body = {"error": {"code": 401, "message": "The request you have made requires authentication.",
                      "title": "Unauthorized"}}
    error = parse_error("keystone", response(401, body))
    assert isinstance(error, AuthError)
    assert error.code == "Unauthorized"
    assert error.message == "The request you have made requires authentication."


def test_entra_token_error():
    body = {"error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215], "trace_id": "t-1", "correlation_id": "c-1"}
    error = parse_error("entra", response(401, body))
    assert isinstance(error, AuthError)
    assert (error.code, error.request_id) == ("invalid_client", "t-1")
    assert error.message.startswith("AADSTS7000215")
    # a 400 from a token endpoint is still an auth failure when the caller says so
    assert isinstance(parse_error("entra", response(400, body), auth=True), AuthError)


def test_yandex_error_with_grpc_code_names():
    body = {"code": 5, "message": "Image fd8abc not found",
            "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "y-req-1"}]}
    error = parse_error("yandex", response(404, body))
    assert (error.code, error.message, error.request_id) == ("NOT_FOUND", "Image fd8abc not found", "y-req-1")
    denied = parse_error("yandex", response(403, {"code": 7, "message": "Permission denied"}))
    assert isinstance(denied, AuthError) and denied.code == "PERMISSION_DENIED"


def test_ims_error():
    body = {"error": {"code": "IMG.0015", "message": "Only custom attributes, name and description can be changed."}}
    error = parse_error("ims", response(403, body))
    assert type(error) is ApiError  # a 403 about a rule, not about credentials
    assert error.code == "IMG.0015"


def test_huawei_gateway_error():
    body = {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information", "request_id": "h1"}
    error = parse_error("ims", response(401, body))
    assert isinstance(error, AuthError)
    assert (error.code, error.request_id) == ("APIGW.0301", "h1")


def test_batch_authentication_failure_403_is_an_auth_error():
    body = {"code": "AuthenticationFailed", "message": {"lang": "en-US", "value": "Server failed to authenticate."}}
    assert isinstance(parse_error("batch", response(403, body)), AuthError)


def test_request_id_header_order():
    headers = {"x-request-id": "generic", "x-ms-request-id": "ms"}
    assert parse_error("t", response(500, {}, headers=headers)).request_id == "ms"


@pytest.mark.parametrize("text", ["", "   ", "\x00\xff garbage", "{\"truncated\": ", "[1, 2", "null", "42"])
def test_garbage_falls_back_to_the_raw_text(text):
    error = parse_error("t", response(502, text=text, content_type="text/plain"))
    assert error.status == 502
    assert error.message  # never empty: at least the reason phrase
    assert "\x00" not in error.message and "\x00" not in error.raw_text


def test_huge_body_is_bounded():
    text = "E" * 5_000_000
    error = parse_error("t", response(500, text=text, content_type="text/plain"))
    assert len(error.message) <= MAX_MESSAGE + 50
    assert len(error.raw_text) <= MAX_RAW_TEXT + 50
    huge_json = json.dumps({"error": {"code": "X", "message": "m" * 100_000}})
    error = parse_error("t", response(500, text=huge_json))
    assert error.code == "X" and len(error.message) <= MAX_MESSAGE + 50


def test_terminal_escapes_are_removed():
    body = {"error": {"code": "Bad\x1b[31m", "message": "red\x1b[2J\x1b]0;pwned\x07 text"}}
    error = parse_error("t", response(400, body))
    assert "\x1b" not in str(error) and "\x07" not in str(error)


def test_secrets_are_scrubbed_from_error_texts():
    secret = "s3cr3t-client-value"
    body = {"error": {"code": "Bad", "message": f"client_secret {secret} is wrong",
                      "details": [{"code": "Echo", "message": secret}]}}
    error = parse_error("t", response(400, body), secrets=[secret])
    for text in (str(error), error.message, error.raw_text, json.dumps(error.details), repr(error)):
        assert secret not in text
