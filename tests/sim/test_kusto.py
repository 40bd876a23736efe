"""The simulated Kusto (ARM) sandbox custom images API, in-process and over loopback."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from pydantic import ValidationError

from workbench.providers.kusto import models
from workbench.sim import kusto
from workbench.sim.app import build_app, endpoints_document
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext
from workbench.sim.demo import DEMO

SUB, RG, CLUSTER, LOCATION = DEMO.kusto_subscription_id, DEMO.kusto_resource_group, DEMO.kusto_cluster, DEMO.kusto_location
API = "api-version=2024-04-13"
IMAGE_TYPE = "Microsoft.Kusto/Clusters/SandboxCustomImages"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ARM_ERROR_KEYS = {"code", "message", "target", "details", "additionalInfo"}

# The official examples (KustoSandboxCustomImagesGet/List/CheckNameAvailability
# and the seed's CreateOrUpdate examples), bodies copied verbatim.
EXAMPLE_GET_CUSTOM_IMAGE8 = {
    "id": "/subscriptions/f12345678-1234-1234-1234-123456789098/resourceGroups/kustorptest/providers/Microsoft.Kusto/Clusters/kustoCluster/SandboxCustomImages/customImage8",
    "name": "kustoCluster/customImage8",
    "type": "Microsoft.Kusto/Clusters/SandboxCustomImages",
    "properties": {
        "language": "Python",
        "languageVersion": "3.10.8",
        "requirementsFileContent": "Requests",
        "provisioningState": "Succeeded",
    },
}
EXAMPLE_LIST_CUSTOM_IMAGE7 = {
    "id": "/subscriptions/f12345678-1234-1234-1234-123456789098/resourceGroups/kustorptest/providers/Microsoft.Kusto/Clusters/kustoCluster/SandboxCustomImages/customImage7",
    "name": "kustoCluster/customImage7",
    "type": "Microsoft.Kusto/Clusters/SandboxCustomImages",
    "properties": {
        "language": "Python",
        "languageVersion": "3.10.8",
        "requirementsFileContent": "Requests",
        "provisioningState": "Succeeded",
    },
}
EXAMPLE_CHECK_NAME_RESPONSE = {
    "name": "sandboxCustomImage1",
    "nameAvailable": False,
    "message": "Name 'sandboxCustomImage1' is already taken. Please specify a different name",
}


def example_put_response(name: str, properties: dict, state: str) -> dict:
    return {
        "id": f"/subscriptions/12345678-1234-1234-1234-123456789098/resourceGroups/kustorptest/providers/Microsoft.Kusto/Clusters/kustoCluster/SandboxCustomImages/{name}",
        "name": f"kustoCluster/{name}",
        "type": "Microsoft.Kusto/Clusters/SandboxCustomImages",
        "properties": {**properties, "provisioningState": state},
    }


def without_id(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "id"}


def image_id(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Kusto/Clusters/{CLUSTER}/SandboxCustomImages/{name}"


def assert_arm_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == ARM_ERROR_KEYS
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], list) and error["additionalInfo"] == []
    assert UUID.match(response.headers["x-ms-request-id"])
    return error


@pytest.fixture
def headers(sim_endpoints) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim_endpoints['tokens']['kusto']}"}


@pytest.fixture
def cluster_url(sim_endpoints) -> str:
    return f"{sim_endpoints['kusto']}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Kusto/clusters/{CLUSTER}"


@pytest.fixture
def images_url(cluster_url) -> str:
    return f"{cluster_url}/sandboxCustomImages"


async def poll_operation(client: httpx.AsyncClient, url: str, headers: dict, limit: int = 50) -> list[dict]:
    """Every status body until a terminal one (bounded by a poll count, not time)."""
    bodies = []
    for _ in range(limit):
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        if bodies[-1]["status"] in ("Succeeded", "Failed", "Canceled"):
            return bodies
    raise AssertionError(f"operation not done after {limit} polls: {bodies[-1]}")


# -- the service's examples, field for field ---------------------------------


async def test_get_answers_the_get_example(sim_client, images_url, headers):
    response = await sim_client.get(f"{images_url}/customImage8?{API}", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert without_id(body) == without_id(EXAMPLE_GET_CUSTOM_IMAGE8)
    # The example's id carries a typo ("f1234..."); ours names the real subscription.
    assert body["id"] == image_id("customImage8")


async def test_list_contains_the_list_example_images(sim_client, images_url, headers):
    response = await sim_client.get(f"{images_url}?{API}", headers=headers)
    assert response.status_code == 200
    by_name = {image["name"]: image for image in response.json()["value"]}
    assert without_id(by_name["kustoCluster/customImage7"]) == without_id(EXAMPLE_LIST_CUSTOM_IMAGE7)
    assert without_id(by_name["kustoCluster/customImage8"]) == without_id(EXAMPLE_GET_CUSTOM_IMAGE8)
    assert by_name["kustoCluster/customImage1"]["properties"]["provisioningState"] == "Succeeded"
    assert by_name["kustoCluster/customImage2"]["properties"]["baseImageName"] == "customImage1"


async def test_put_answers_the_create_or_update_example(sim_client, images_url, headers):
    request = {"properties": {"language": "Python", "languageVersion": "3.10.8", "requirementsFileContent": "Requests"}}
    response = await sim_client.put(f"{images_url}/customImage8?{API}", json=request, headers=headers)
    assert response.status_code == 200  # customImage8 exists: an update
    assert response.json() == example_put_response("customImage8", request["properties"], "Accepted")
    async_url = response.headers["Azure-AsyncOperation"]
    assert re.match(
        rf"^http://sim\.test/kusto/subscriptions/{SUB}/providers/Microsoft\.Kusto/locations/{LOCATION}"
        r"/operationResults/[0-9a-f-]{36}\?api-version=2024-04-13$",
        async_url,
    )


async def test_put_new_image_answers_201_creating_like_the_example(sim_client, images_url, headers):
    request = {"properties": {"language": "Python", "languageVersion": "3.10.8", "requirementsFileContent": "Requests"}}
    response = await sim_client.put(f"{images_url}/customImage9?{API}", json=request, headers=headers)
    assert response.status_code == 201
    assert response.json() == example_put_response("customImage9", request["properties"], "Creating")


async def test_put_answers_the_managed_base_image_example(sim_client, images_url, headers):
    request = {"properties": {"language": "Python", "baseImageName": "Python3_10_8", "requirementsFileContent": "Requests"}}
    response = await sim_client.put(f"{images_url}/customImage2?{API}", json=request, headers=headers)
    assert response.status_code == 200
    assert response.json() == example_put_response("customImage2", request["properties"], "Accepted")


async def test_put_answers_the_custom_base_image_example(sim_client, sim_context, images_url, headers):
    # The example's 200 already says Succeeded: an operation that needs no polls.
    sim_context.config.operation_polls = 0
    request = {"properties": {"language": "Python", "baseImageName": "customImage1", "requirementsFileContent": "Requests"}}
    response = await sim_client.put(f"{images_url}/customImage2?{API}", json=request, headers=headers)
    assert response.status_code == 200
    assert response.json() == example_put_response("customImage2", request["properties"], "Succeeded")
    status = (await sim_client.get(response.headers["Azure-AsyncOperation"], headers=headers)).json()
    assert status["status"] == "Succeeded"


async def test_check_name_answers_the_example(sim_client, cluster_url, headers):
    request = {"name": "sandboxCustomImage1", "type": "Microsoft.Kusto/clusters/sandboxCustomImages"}
    response = await sim_client.post(f"{cluster_url}/sandboxCustomImagesCheckNameAvailability?{API}", json=request, headers=headers)
    assert response.status_code == 200
    assert response.json() == EXAMPLE_CHECK_NAME_RESPONSE


async def test_delete_answers_the_delete_example(sim_client, images_url, headers):
    response = await sim_client.delete(f"{images_url}/customImage8?{API}", headers=headers)
    assert response.status_code == 202
    assert response.content == b""
    assert re.match(
        rf"^http://sim\.test/kusto/subscriptions/{SUB}/providers/Microsoft\.Kusto/locations/{LOCATION}/operationResults/[0-9a-f-]{{36}}\?api-version=2024-04-13$",
        response.headers["Azure-AsyncOperation"],
    )
    assert response.headers["Location"] == response.headers["Azure-AsyncOperation"] + "&operationResultResponseType=Location"
    assert response.headers["Retry-After"] == "0"


# -- long-running operations ---------------------------------------------------


async def test_create_goes_creating_then_succeeded_over_the_configured_polls(sim_client, images_url, headers):
    request = {"properties": {"language": "Python", "languageVersion": "3.11.7", "requirementsFileContent": "numpy"}}
    response = await sim_client.put(f"{images_url}/lifecycle?{API}", json=request, headers=headers)
    assert response.status_code == 201
    assert response.headers["Retry-After"] == "0"
    async_url = response.headers["Azure-AsyncOperation"]
    operation_id = async_url.split("/operationResults/")[1].split("?")[0]

    first = (await sim_client.get(async_url, headers=headers)).json()
    assert first["status"] == "InProgress"
    assert first["id"] == f"/subscriptions/{SUB}/providers/Microsoft.Kusto/locations/{LOCATION}/operationResults/{operation_id}"
    assert first["name"] == operation_id
    assert first["percentComplete"] == 50.0
    assert "endTime" not in first and "error" not in first
    assert first["startTime"].endswith("Z")
    image = (await sim_client.get(f"{images_url}/lifecycle?{API}", headers=headers)).json()
    assert image["properties"]["provisioningState"] == "Creating"

    second = await sim_client.get(async_url, headers=headers)
    assert "Retry-After" not in second.headers
    done = second.json()
    assert done["status"] == "Succeeded"
    assert done["percentComplete"] == 100.0
    assert done["endTime"] >= done["startTime"]
    assert done["properties"] == {
        "operationKind": "SandboxCustomImageCreateOrUpdate",
        "provisioningState": "Succeeded",
        "operationState": "Succeeded",
    }
    # The moment the status says Succeeded, the resource says so too.
    image = (await sim_client.get(f"{images_url}/lifecycle?{API}", headers=headers)).json()
    assert image["properties"] == {**request["properties"], "provisioningState": "Succeeded"}
    # Later polls keep answering the outcome.
    assert (await sim_client.get(async_url, headers=headers)).json()["status"] == "Succeeded"
    models.OperationResult.model_validate(done)


async def test_update_goes_accepted_creating_succeeded(sim_client, images_url, headers):
    request = {"properties": {"language": "Python", "languageVersion": "3.11.7", "requirementsFileContent": "polars"}}
    response = await sim_client.put(f"{images_url}/customImage7?{API}", json=request, headers=headers)
    assert response.status_code == 200
    states = [response.json()["properties"]["provisioningState"]]
    for _ in range(10):
        status = (await sim_client.get(response.headers["Azure-AsyncOperation"], headers=headers)).json()
        image = (await sim_client.get(f"{images_url}/customImage7?{API}", headers=headers)).json()
        states.append(image["properties"]["provisioningState"])
        assert status["properties"]["provisioningState"] == states[-1]
        if status["status"] != "InProgress":
            break
    assert states == ["Accepted", "Creating", "Succeeded"]
    assert image["properties"]["requirementsFileContent"] == "polars"


@pytest.mark.parametrize("polls", [1, 4])
async def test_operation_completes_after_exactly_the_configured_number_of_polls(sim_client, sim_context, images_url, headers, polls):
    sim_context.config.operation_polls = polls
    request = {"properties": {"language": "Python", "baseImageName": "Python3_11_7"}}
    response = await sim_client.put(f"{images_url}/counted?{API}", json=request, headers=headers)
    statuses = [s["status"] for s in await poll_operation(sim_client, response.headers["Azure-AsyncOperation"], headers)]
    assert statuses == ["InProgress"] * (polls - 1) + ["Succeeded"]


async def test_injected_operation_failure_ends_failed_with_an_arm_error(sim_client, sim_context, images_url, headers):
    sim_context.config.fault_rate = 1.0
    sim_context.config.fault_kinds = ("fail_operation",)
    request = {"properties": {"language": "Python", "languageVersion": "3.10.8"}}
    response = await sim_client.put(f"{images_url}/doomed?{API}", json=request, headers=headers)
    assert response.status_code == 201
    last = (await poll_operation(sim_client, response.headers["Azure-AsyncOperation"], headers))[-1]
    assert last["status"] == "Failed"
    assert last["error"]["code"] == "SandboxCustomImageOperationFailed"
    assert "doomed" in last["error"]["message"]
    assert "endTime" in last
    image = (await sim_client.get(f"{images_url}/doomed?{API}", headers=headers)).json()
    assert image["properties"]["provisioningState"] == "Failed"
    # Location-style polling reports the failure as an ARM error.
    location = response.headers["Azure-AsyncOperation"] + "&operationResultResponseType=Location"
    error = assert_arm_error(await sim_client.get(location, headers=headers), 400, "SandboxCustomImageOperationFailed")
    assert "doomed" in error["message"]


async def test_a_newer_request_cancels_the_running_operation(sim_client, images_url, headers):
    request = {"properties": {"language": "Python", "languageVersion": "3.10.8"}}
    first = await sim_client.put(f"{images_url}/busy?{API}", json=request, headers=headers)
    second = await sim_client.put(f"{images_url}/busy?{API}", json=request, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    canceled = (await sim_client.get(first.headers["Azure-AsyncOperation"], headers=headers)).json()
    assert canceled["status"] == "Canceled"
    assert canceled["error"]["code"] == "OperationCanceled"
    last = (await poll_operation(sim_client, second.headers["Azure-AsyncOperation"], headers))[-1]
    assert last["status"] == "Succeeded"


async def test_operation_status_errors(sim_client, images_url, headers, sim_endpoints):
    response = await sim_client.put(
        f"{images_url}/opcheck?{API}", json={"properties": {"language": "Python", "languageVersion": "3.10.8"}}, headers=headers
    )
    url = response.headers["Azure-AsyncOperation"]
    assert_arm_error(await sim_client.get(url), 401, "AuthenticationFailed")
    assert_arm_error(await sim_client.get(url.split("?")[0], headers=headers), 400, "MissingApiVersionParameter")
    assert_arm_error(await sim_client.get(url.replace(f"/locations/{LOCATION}/", "/locations/eastus/"), headers=headers), 404, "ResourceNotFound")
    unknown = f"{sim_endpoints['kusto']}/subscriptions/{SUB}/providers/Microsoft.Kusto/locations/{LOCATION}/operationResults/{uuid.uuid4()}?{API}"
    assert_arm_error(await sim_client.get(unknown, headers=headers), 404, "ResourceNotFound")
    # None of those counted as polls of the real operation.
    assert (await sim_client.get(url, headers=headers)).json()["status"] == "InProgress"


# -- PATCH -------------------------------------------------------------------------


async def test_patch_merges_and_runs_an_operation(sim_client, images_url, headers):
    response = await sim_client.patch(
        f"{images_url}/customImage7?{API}", json={"properties": {"requirementsFileContent": "httpx==0.28.1"}}, headers=headers
    )
    assert response.status_code == 202
    body = response.json()
    assert body["properties"] == {
        "language": "Python",
        "languageVersion": "3.10.8",
        "requirementsFileContent": "httpx==0.28.1",
        "provisioningState": "Accepted",
    }
    assert response.headers["Location"].startswith(response.headers["Azure-AsyncOperation"])
    last = (await poll_operation(sim_client, response.headers["Azure-AsyncOperation"], headers))[-1]
    assert last["status"] == "Succeeded"
    assert last["properties"]["operationKind"] == "SandboxCustomImageUpdate"
    image = (await sim_client.get(f"{images_url}/customImage7?{API}", headers=headers)).json()
    assert image["properties"]["requirementsFileContent"] == "httpx==0.28.1"
    assert image["properties"]["provisioningState"] == "Succeeded"


async def test_patch_null_removes_a_property_so_the_base_can_change(sim_client, images_url, headers):
    patch = models.UpdateSandboxCustomImage(
        properties=models.UpdateSandboxCustomImageProperties(language_version=None, base_image_name="Python3_11_7_DL")
    ).to_json_dict()
    response = await sim_client.patch(f"{images_url}/customImage7?{API}", json=patch, headers=headers)
    assert response.status_code == 202
    properties = response.json()["properties"]
    assert "languageVersion" not in properties
    assert properties["baseImageName"] == "Python3_11_7_DL"


async def test_patch_is_validated_after_the_merge(sim_client, images_url, headers):
    response = await sim_client.patch(
        f"{images_url}/customImage7?{API}", json={"properties": {"baseImageName": "Python3_10_8"}}, headers=headers
    )
    error = assert_arm_error(response, 400, "BadRequest")
    assert error["target"] == "properties"
    assert "exactly one of languageVersion and baseImageName" in error["message"]
    image = (await sim_client.get(f"{images_url}/customImage7?{API}", headers=headers)).json()
    assert image == {**EXAMPLE_LIST_CUSTOM_IMAGE7, "id": image_id("customImage7")}  # unchanged


async def test_patch_properties_must_be_an_object(sim_client, images_url, headers):
    response = await sim_client.patch(f"{images_url}/customImage7?{API}", json={"properties": ["x"]}, headers=headers)
    assert assert_arm_error(response, 400, "BadRequest")["target"] == "properties"


async def test_patch_of_a_missing_image_is_404(sim_client, images_url, headers):
    response = await sim_client.patch(f"{images_url}/nope?{API}", json={"properties": {}}, headers=headers)
    assert_arm_error(response, 404, "ResourceNotFound")


# -- DELETE --------------------------------------------------------------------------


async def test_delete_lifecycle_with_location_polling(sim_client, images_url, headers):
    response = await sim_client.delete(f"{images_url}/geoAnalytics?{API}", headers=headers)
    assert response.status_code == 202
    image = (await sim_client.get(f"{images_url}/geoAnalytics?{API}", headers=headers)).json()
    assert image["properties"]["provisioningState"] == "Deleting"

    location = response.headers["Location"]
    in_progress = await sim_client.get(location, headers=headers)
    assert in_progress.status_code == 202
    assert in_progress.headers["Azure-AsyncOperation"] == response.headers["Azure-AsyncOperation"]
    assert in_progress.headers["Retry-After"] == "0"
    done = await sim_client.get(location, headers=headers)
    assert done.status_code == 200
    assert done.json()["status"] == "Succeeded"
    assert done.json()["properties"]["operationKind"] == "SandboxCustomImageDelete"

    assert_arm_error(await sim_client.get(f"{images_url}/geoAnalytics?{API}", headers=headers), 404, "ResourceNotFound")
    names = [i["name"] for i in (await sim_client.get(f"{images_url}?{API}", headers=headers)).json()["value"]]
    assert "kustoCluster/geoAnalytics" not in names


async def test_delete_of_an_absent_image_is_204(sim_client, images_url, headers):
    response = await sim_client.delete(f"{images_url}/neverExisted?{API}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert "Azure-AsyncOperation" not in response.headers
    assert UUID.match(response.headers["x-ms-request-id"])


# -- validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "target", "fragment"),
    [
        ({}, "properties", "The property 'properties' is required."),
        ({"properties": {}}, "properties.language", "The property 'properties.language' is required."),
        ({"properties": {"languageVersion": "3.10.8"}}, "properties.language", "is required"),
        ({"properties": {"language": "R", "languageVersion": "3.10.8"}}, "properties.language", "language must be 'Python'"),
        ({"properties": {"language": "python", "languageVersion": "3.10.8"}}, "properties.language", "got 'python'"),
        ({"properties": {"language": "Python"}}, "properties", "exactly one of languageVersion and baseImageName must be specified, got neither"),
        (
            {"properties": {"language": "Python", "languageVersion": "3.10.8", "baseImageName": "Python3_10_8"}},
            "properties",
            "exactly one of languageVersion and baseImageName must be specified, got both",
        ),
        ({"properties": {"language": "Python", "languageVersion": "latest"}}, "properties.languageVersion", "languageVersion must be a Python version"),
        ({"properties": {"language": "Python", "languageVersion": 3.1}}, "properties.languageVersion", "valid string"),
        ({"properties": {"language": "Python", "baseImageName": " "}}, "properties.baseImageName", "baseImageName must not be empty"),
        ({"properties": {"language": "Python", "baseImageName": "Python3_99"}}, "properties.baseImageName", "is neither a managed image"),
        ({"properties": {"language": "Python", "baseImageName": "R"}}, "properties.baseImageName", "is neither a managed image"),
        ({"properties": {"language": "Python", "baseImageName": "validated"}}, "properties.baseImageName", "cannot be its own base image"),
        ({"properties": "Python"}, "properties", "valid dictionary"),
    ],
)
async def test_put_validation(sim_client, images_url, headers, body, target, fragment):
    response = await sim_client.put(f"{images_url}/validated?{API}", json=body, headers=headers)
    error = assert_arm_error(response, 400, "BadRequest")
    assert error["target"] == target
    assert fragment in error["message"]
    assert error["details"][0] == {"code": "BadRequest", "message": error["message"], "target": target}
    # Nothing was created.
    assert_arm_error(await sim_client.get(f"{images_url}/validated?{API}", headers=headers), 404, "ResourceNotFound")


async def test_put_validation_reports_every_violation(sim_client, images_url, headers):
    body = {"properties": {"language": "R", "languageVersion": "x.y"}}
    error = assert_arm_error(await sim_client.put(f"{images_url}/two?{API}", json=body, headers=headers), 400, "BadRequest")
    assert {d["target"] for d in error["details"]} == {"properties.language", "properties.languageVersion"}


async def test_unknown_base_error_lists_the_managed_images(sim_client, images_url, headers):
    body = {"properties": {"language": "Python", "baseImageName": "noSuchImage"}}
    error = assert_arm_error(await sim_client.put(f"{images_url}/x?{API}", json=body, headers=headers), 400, "BadRequest")
    for name in models.MANAGED_BASE_IMAGE_NAMES:
        assert name in error["message"]
    assert "kustoCluster" in error["message"]


async def test_custom_base_image_is_matched_case_insensitively(sim_client, images_url, headers):
    body = {"properties": {"language": "Python", "baseImageName": "CUSTOMIMAGE1"}}
    response = await sim_client.put(f"{images_url}/onCustom?{API}", json=body, headers=headers)
    assert response.status_code == 201
    assert response.json()["properties"]["baseImageName"] == "CUSTOMIMAGE1"


async def test_read_only_and_unknown_members_are_ignored(sim_client, images_url, headers):
    body = {"id": "/x", "properties": {"language": "Python", "languageVersion": "3.10.8", "provisioningState": "Succeeded", "color": "blue"}}
    response = await sim_client.put(f"{images_url}/lenient?{API}", json=body, headers=headers)
    assert response.status_code == 201
    assert response.json()["properties"] == {"language": "Python", "languageVersion": "3.10.8", "provisioningState": "Creating"}
    assert response.json()["id"] == image_id("lenient")


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"properties": {', "application/json", 400, "InvalidRequestContent"),
        (b"[1, 2]", "application/json", 400, "InvalidRequestContent"),
        (b"", "application/json", 400, "InvalidRequestContent"),
        (b"language=Python", "text/plain", 415, "UnsupportedMediaType"),
    ],
)
async def test_malformed_bodies(sim_client, images_url, headers, content, content_type, status, code):
    response = await sim_client.put(
        f"{images_url}/bad?{API}", content=content, headers={**headers, "Content-Type": content_type}
    )
    error = assert_arm_error(response, status, code)
    if code == "InvalidRequestContent":
        assert error["message"].startswith("The request content was invalid and could not be deserialized")


async def test_json_with_charset_is_accepted(sim_client, images_url, headers):
    response = await sim_client.put(
        f"{images_url}/charset?{API}",
        content=b'{"properties": {"language": "Python", "languageVersion": "3.10.8"}}',
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


# -- paths, names and api-version ---------------------------------------------------


def cluster_path(sub: str = SUB, rg: str = RG, cluster: str = CLUSTER) -> str:
    return f"/kusto/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Kusto/clusters/{cluster}"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (cluster_path(rg="r" * 91) + "/sandboxCustomImages", 400, "InvalidResourceGroup"),
        (cluster_path(rg="") + "/sandboxCustomImages", 400, "InvalidResourceGroup"),
        (cluster_path(rg="bad*name") + "/sandboxCustomImages", 400, "InvalidResourceGroup"),
        (cluster_path(rg="r" * 90) + "/sandboxCustomImages", 404, "ResourceGroupNotFound"),
        (cluster_path(rg="otherGroup") + "/sandboxCustomImages/customImage1", 404, "ResourceGroupNotFound"),
        (cluster_path(sub="not-a-guid") + "/sandboxCustomImages", 400, "InvalidSubscriptionId"),
        (cluster_path(sub=str(uuid.UUID(int=7))) + "/sandboxCustomImages", 404, "SubscriptionNotFound"),
        (cluster_path(cluster="noCluster") + "/sandboxCustomImages", 404, "ResourceNotFound"),
        (cluster_path() + "/sandboxCustomImages/noImage", 404, "ResourceNotFound"),
        (cluster_path() + "/databases", 404, "InvalidResourceType"),
        ("/kusto/whatever", 404, "NotFound"),
    ],
)
async def test_path_errors(sim_client, headers, path, status, code):
    error = assert_arm_error(await sim_client.get(f"{path}?{API}", headers=headers), status, code)
    if code == "InvalidResourceGroup" and "r" * 91 in path:
        assert "91 characters" in error["message"] and "between 1 and 90" in error["message"]
    if code == "ResourceNotFound" and "noCluster" in path:
        assert error["message"].startswith("The Resource 'Microsoft.Kusto/clusters/noCluster' under resource group 'kustorptest' was not found.")


async def test_put_into_a_missing_cluster_is_404_before_the_body_is_read(sim_client, headers):
    response = await sim_client.put(f"{cluster_path(cluster='ghost')}/sandboxCustomImages/x?{API}", content=b"{not json", headers=headers)
    assert_arm_error(response, 404, "ResourceNotFound")


async def test_names_and_path_literals_are_case_insensitive(sim_client, headers):
    path = f"/kusto/SUBSCRIPTIONS/{SUB.upper()}/resourcegroups/KUSTORPTEST/providers/microsoft.kusto/Clusters/KUSTOCLUSTER/SandboxCustomImages/CUSTOMIMAGE8"
    response = await sim_client.get(f"{path}?{API}", headers=headers)
    assert response.status_code == 200
    assert response.json()["id"] == image_id("customImage8")  # the stored spelling


async def test_method_not_allowed(sim_client, images_url, headers):
    response = await sim_client.post(f"{images_url}/customImage8?{API}", json={}, headers=headers)
    assert_arm_error(response, 405, "MethodNotAllowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "PUT", "PATCH", "DELETE"}


async def test_missing_api_version(sim_client, images_url, headers):
    for url in (images_url, f"{images_url}?api-version="):
        error = assert_arm_error(await sim_client.get(url, headers=headers), 400, "MissingApiVersionParameter")
        assert error["message"] == "The api-version query parameter (?api-version=) is required for all requests."


@pytest.mark.parametrize("version", ["2023-08-15", "2025-02-14", "latest"])
async def test_unknown_api_version(sim_client, images_url, headers, version):
    error = assert_arm_error(await sim_client.get(f"{images_url}?api-version={version}", headers=headers), 400, "InvalidApiVersionParameter")
    assert error["message"] == f"The api-version '{version}' is invalid. The supported versions are '2024-04-13'."


@pytest.mark.parametrize("name", ["API-VERSION", "Api-Version", "api-Version"])
async def test_api_version_parameter_name_is_case_insensitive(sim_client, images_url, headers, name):
    response = await sim_client.get(f"{images_url}/customImage8?{name}=2024-04-13", headers=headers)
    assert response.status_code == 200


# -- authentication ------------------------------------------------------------------


async def test_missing_authorization_is_401_with_a_challenge(sim_client, images_url):
    response = await sim_client.get(f"{images_url}?{API}")
    error = assert_arm_error(response, 401, "AuthenticationFailed")
    assert error["message"] == "Authentication failed. The 'Authorization' header is missing."
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer authorization_uri="http://sim.test/entra/{DEMO.entra_tenant_id}"')
    assert 'error="invalid_token"' in challenge


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("Basic dXNlcjpwYXNz", "AuthenticationFailed"),
        ("Bearer", "AuthenticationFailed"),
        ("Bearer not-a-token-we-issued", "InvalidAuthenticationToken"),
    ],
)
async def test_bad_authorization(sim_client, images_url, authorization, code):
    response = await sim_client.get(f"{images_url}?{API}", headers={"Authorization": authorization})
    assert_arm_error(response, 401, code)
    assert "WWW-Authenticate" in response.headers


async def test_a_batch_token_does_not_open_arm(sim_client, images_url, sim_endpoints):
    response = await sim_client.get(f"{images_url}?{API}", headers={"Authorization": f"Bearer {sim_endpoints['tokens']['batch']}"})
    assert_arm_error(response, 401, "InvalidAuthenticationToken")


async def test_expired_tokens_are_refused(sim_client, sim_context, images_url, headers):
    assert (await sim_client.get(f"{images_url}?{API}", headers=headers)).status_code == 200
    sim_context.tokens.expire_all()
    assert_arm_error(await sim_client.get(f"{images_url}?{API}", headers=headers), 401, "InvalidAuthenticationToken")


async def test_a_token_from_the_entra_endpoint_opens_arm(sim_client, sim_endpoints, images_url):
    credentials = sim_endpoints["entra_credentials"]
    token = await sim_client.post(
        credentials["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
            "scope": "https://management.azure.com/.default",
        },
    )
    assert token.status_code == 200
    response = await sim_client.get(f"{images_url}?{API}", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert response.status_code == 200


async def test_api_version_is_checked_before_authentication(sim_client, images_url):
    assert_arm_error(await sim_client.get(images_url), 400, "MissingApiVersionParameter")


# -- headers -----------------------------------------------------------------------------


async def test_every_answer_carries_request_and_correlation_ids(sim_client, images_url, headers):
    responses = [
        await sim_client.get(f"{images_url}?{API}", headers=headers),
        await sim_client.get(f"{images_url}/customImage8?{API}", headers=headers),
        await sim_client.get(f"{images_url}/missing?{API}", headers=headers),
        await sim_client.get(f"{images_url}?{API}"),
        await sim_client.delete(f"{images_url}/missing?{API}", headers=headers),
    ]
    request_ids = set()
    for response in responses:
        assert UUID.match(response.headers["x-ms-request-id"])
        assert UUID.match(response.headers["x-ms-correlation-request-id"])
        request_ids.add(response.headers["x-ms-request-id"])
    assert len(request_ids) == len(responses)


async def test_the_client_correlation_id_is_echoed(sim_client, images_url, headers):
    correlation = str(uuid.uuid4())
    for url in (f"{images_url}?{API}", images_url):
        response = await sim_client.get(url, headers={**headers, "x-ms-correlation-request-id": correlation})
        assert response.headers["x-ms-correlation-request-id"] == correlation


@pytest.mark.parametrize(("kind", "status", "code"), [("throttle", 429, "TooManyRequests"), ("unavailable", 503, "ServiceUnavailable")])
async def test_injected_faults_answer_in_arm_shape(sim_client, sim_context, images_url, headers, kind, status, code):
    sim_context.config.fault_rate = 1.0
    sim_context.config.fault_kinds = (kind,)
    response = await sim_client.get(f"{images_url}?{API}", headers=headers)
    assert_arm_error(response, status, code)
    assert response.headers["Retry-After"] == "1"
    assert UUID.match(response.headers["x-ms-correlation-request-id"])


# -- check name ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({"name": "brandNewName", "type": "Microsoft.Kusto/clusters/sandboxCustomImages"}, {"name": "brandNewName", "nameAvailable": True}),
        (
            {"name": "CUSTOMIMAGE1", "type": "Microsoft.Kusto/clusters/sandboxCustomImages"},
            {"name": "CUSTOMIMAGE1", "nameAvailable": False, "message": "Name 'CUSTOMIMAGE1' is already taken. Please specify a different name"},
        ),
    ],
)
async def test_check_name(sim_client, cluster_url, headers, request_body, expected):
    response = await sim_client.post(f"{cluster_url}/sandboxCustomImagesCheckNameAvailability?{API}", json=request_body, headers=headers)
    assert response.status_code == 200
    assert response.json() == expected


async def test_check_name_invalid_name(sim_client, cluster_url, headers):
    body = {"name": " ", "type": "Microsoft.Kusto/clusters/sandboxCustomImages"}
    result = (await sim_client.post(f"{cluster_url}/sandboxCustomImagesCheckNameAvailability?{API}", json=body, headers=headers)).json()
    assert result["nameAvailable"] is False and result["reason"] == "Invalid"


@pytest.mark.parametrize(
    ("body", "target"),
    [({"type": "Microsoft.Kusto/clusters/sandboxCustomImages"}, "name"), ({"name": "x", "type": "Microsoft.Kusto/clusters/databases"}, "type")],
)
async def test_check_name_validation(sim_client, cluster_url, headers, body, target):
    response = await sim_client.post(f"{cluster_url}/sandboxCustomImagesCheckNameAvailability?{API}", json=body, headers=headers)
    assert assert_arm_error(response, 400, "BadRequest")["target"] == target


# -- listing and paging -------------------------------------------------------------------------


async def collect_pages(client: httpx.AsyncClient, first_url: str, headers: dict) -> list[dict]:
    pages, url = [], first_url
    while url:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = pages[-1].get("nextLink")
        assert len(pages) < 10_000
    return pages


async def test_list_pages_with_absolute_next_links(sim_client, sim_context, images_url, headers):
    sim_context.config.extra["kusto_page_size"] = 3
    pages = await collect_pages(sim_client, f"{images_url}?{API}", headers)
    catalog = len(kusto._CATALOG)
    assert [len(p["value"]) for p in pages] == [3] * (catalog // 3) + ([catalog % 3] if catalog % 3 else [])
    for page in pages[:-1]:
        assert page["nextLink"].startswith(f"http://sim.test/kusto/subscriptions/{SUB}/resourceGroups/{RG}/")
        assert "api-version=2024-04-13" in page["nextLink"] and "$skiptoken=" in page["nextLink"]
    assert "nextLink" not in pages[-1]
    names = [image["name"].split("/")[1] for page in pages for image in page["value"]]
    assert names == sorted(names, key=str.lower)
    assert set(names) == {name for name, _ in kusto._CATALOG}


async def test_paging_survives_changes_between_pages(sim_client, sim_context, images_url, headers):
    sim_context.config.extra["kusto_page_size"] = 4
    first = (await sim_client.get(f"{images_url}?{API}", headers=headers)).json()
    # An image that sorts before the cursor, and a delete of one not yet listed.
    body = {"properties": {"language": "Python", "languageVersion": "3.10.8"}}
    assert (await sim_client.put(f"{images_url}/aaaFirst?{API}", json=body, headers=headers)).status_code == 201
    sim_context.config.operation_polls = 0
    assert (await sim_client.delete(f"{images_url}/torchInference?{API}", headers=headers)).status_code == 202
    rest = await collect_pages(sim_client, first["nextLink"], headers)
    names = [i["name"] for i in first["value"]] + [i["name"] for p in rest for i in p["value"]]
    assert len(names) == len(set(names))
    assert "kustoCluster/torchInference" not in names


async def test_bad_skiptoken(sim_client, images_url, headers):
    response = await sim_client.get(f"{images_url}?{API}&$skiptoken=%25%25%25", headers=headers)
    assert assert_arm_error(response, 400, "InvalidSkipToken")["target"] == "$skiptoken"


async def test_clusters_are_separate(sim_client, headers):
    path = cluster_path(cluster="kustoDevCluster") + "/sandboxCustomImages"
    names = {i["name"] for i in (await sim_client.get(f"{path}?{API}", headers=headers)).json()["value"]}
    assert names == {"kustoDevCluster/devScratch", "kustoDevCluster/devNotebooks"}
    # A custom base must be an image of the same cluster.
    body = {"properties": {"language": "Python", "baseImageName": "customImage1"}}
    assert_arm_error(await sim_client.put(f"{path}/x?{API}", json=body, headers=headers), 400, "BadRequest")


async def test_generated_seed_images_list_in_pages():
    ctx = SimContext(SimConfig(seed_images=450, operation_retry_after=0))
    app = build_app(context=ctx)
    endpoints = endpoints_document("http://sim.test", ctx)
    headers = {"Authorization": f"Bearer {endpoints['tokens']['kusto']}"}
    url = f"{endpoints['kusto']}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Kusto/clusters/{CLUSTER}/sandboxCustomImages?{API}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as client:
        pages = await collect_pages(client, url, headers)
    assert [len(p["value"]) for p in pages] == [200, 200, 450 + len(kusto._CATALOG) - 400]
    names = [i["name"] for p in pages for i in p["value"]]
    assert len(set(names)) == len(names) == 450 + len(kusto._CATALOG)
    for image in pages[1]["value"]:
        models.SandboxCustomImage.model_validate(image)
        properties = image["properties"]
        assert ("languageVersion" in properties) != ("baseImageName" in properties)
        assert properties["provisioningState"] == "Succeeded"


def test_seeding_100000_images_keeps_them_ordered():
    ctx = SimContext(SimConfig(seed_images=100_000))
    state = kusto.build_state(ctx)
    cluster = state.clusters[(SUB.lower(), RG.lower(), CLUSTER.lower())]
    assert len(cluster.images) == len(cluster.order) == 100_000 + len(kusto._CATALOG)
    assert cluster.order == sorted(cluster.order)


def test_each_simulator_has_its_own_state():
    first, second = SimContext(SimConfig()), SimContext(SimConfig())
    kusto.mounts(first), kusto.mounts(second)
    assert first.states["kusto"] is not second.states["kusto"]
    cluster = first.states["kusto"].clusters[(SUB.lower(), RG.lower(), CLUSTER.lower())]
    cluster.remove("customimage1")
    assert "customimage1" in second.states["kusto"].clusters[(SUB.lower(), RG.lower(), CLUSTER.lower())].images


async def test_concurrent_creates_in_process(sim_client, sim_context, images_url, headers):
    sim_context.config.extra["kusto_page_size"] = 1000
    body = {"properties": {"language": "Python", "languageVersion": "3.10.8"}}
    responses = await asyncio.gather(
        *(sim_client.put(f"{images_url}/parallel{i:03d}?{API}", json=body, headers=headers) for i in range(60))
    )
    assert {r.status_code for r in responses} == {201}
    listed = (await sim_client.get(f"{images_url}?{API}", headers=headers)).json()["value"]
    parallel = sorted(i["name"] for i in listed if i["name"].startswith("kustoCluster/parallel"))
    assert parallel == [f"kustoCluster/parallel{i:03d}" for i in range(60)]


# -- over real loopback HTTP -------------------------------------------------------------------


def test_full_lifecycle_over_loopback(sim_server):
    endpoints = sim_server.endpoints
    base = sim_server.base_url
    headers = {"Authorization": f"Bearer {endpoints['tokens']['kusto']}"}
    images = f"{endpoints['kusto']}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Kusto/clusters/{CLUSTER}/sandboxCustomImages"
    sim_server.context.config.extra["kusto_page_size"] = 4
    with httpx.Client(timeout=10) as client:
        body = {"properties": {"language": "Python", "baseImageName": "Python3_10_8_DL", "requirementsFileContent": "torch"}}
        created = client.put(f"{images}/overTheWire?{API}", json=body, headers=headers)
        assert created.status_code == 201
        async_url = created.headers["Azure-AsyncOperation"]
        assert async_url.startswith(f"{base}/kusto/subscriptions/{SUB}/providers/Microsoft.Kusto/locations/{LOCATION}/operationResults/")
        statuses = []
        for _ in range(20):
            statuses.append(client.get(async_url, headers=headers).json()["status"])
            if statuses[-1] != "InProgress":
                break
        assert statuses == ["InProgress", "Succeeded"]
        image = client.get(f"{images}/overTheWire?{API}", headers=headers).json()
        assert image["properties"]["provisioningState"] == "Succeeded"

        page = client.get(f"{images}?{API}", headers=headers).json()
        assert page["nextLink"].startswith(f"{base}/kusto/")
        names, url = [], f"{images}?{API}"
        while url:
            page = client.get(url, headers=headers).json()
            names += [i["name"] for i in page["value"]]
            url = page.get("nextLink")
        assert "kustoCluster/overTheWire" in names and len(names) == len(set(names)) == len(kusto._CATALOG) + 1

        deleted = client.delete(f"{images}/overTheWire?{API}", headers=headers)
        assert deleted.status_code == 202
        assert deleted.headers["Location"].startswith(base)
        codes = [client.get(deleted.headers["Location"], headers=headers).status_code for _ in range(2)]
        assert codes == [202, 200]
        assert client.get(f"{images}/overTheWire?{API}", headers=headers).status_code == 404

        unauthorized = client.get(f"{images}?{API}")
        assert unauthorized.status_code == 401
        assert f'authorization_uri="{base}/entra/' in unauthorized.headers["WWW-Authenticate"]
        assert set(unauthorized.json()["error"]) == ARM_ERROR_KEYS
        assert UUID.match(unauthorized.headers["x-ms-request-id"])


def test_concurrent_clients_over_loopback(sim_server):
    endpoints = sim_server.endpoints
    headers = {"Authorization": f"Bearer {endpoints['tokens']['kusto']}"}
    images = f"{endpoints['kusto']}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Kusto/clusters/{CLUSTER}/sandboxCustomImages"

    def create_and_finish(i: int) -> str:
        with httpx.Client(timeout=10) as client:
            body = {"properties": {"language": "Python", "languageVersion": "3.11.7", "requirementsFileContent": f"pkg{i}"}}
            response = client.put(f"{images}/thread{i:02d}?{API}", json=body, headers=headers)
            assert response.status_code == 201
            for _ in range(20):
                if client.get(response.headers["Azure-AsyncOperation"], headers=headers).json()["status"] != "InProgress":
                    break
            return client.get(f"{images}/thread{i:02d}?{API}", headers=headers).json()["properties"]["requirementsFileContent"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(create_and_finish, range(24)))
    assert results == [f"pkg{i}" for i in range(24)]
    cluster = sim_server.context.states["kusto"].clusters[(SUB.lower(), RG.lower(), CLUSTER.lower())]
    assert cluster.order == sorted(cluster.images)
    assert all(cluster.images[f"thread{i:02d}"]["properties"]["provisioningState"] == "Succeeded" for i in range(24))


# -- the pydantic models -------------------------------------------------------------------------


def test_models_read_the_examples_in_snake_case_and_write_camel_case():
    image = models.SandboxCustomImage.model_validate(EXAMPLE_GET_CUSTOM_IMAGE8)
    assert image.properties.language_version == "3.10.8"
    assert image.properties.requirements_file_content == "Requests"
    assert image.properties.provisioning_state is models.ProvisioningState.SUCCEEDED
    assert (image.cluster_name, image.image_name) == ("kustoCluster", "customImage8")
    assert image.to_json_dict() == EXAMPLE_GET_CUSTOM_IMAGE8
    listed = models.SandboxCustomImagesListResult.model_validate({"value": [EXAMPLE_LIST_CUSTOM_IMAGE7], "nextLink": "http://x/next"})
    assert listed.next_link == "http://x/next" and listed.value[0].image_name == "customImage7"
    result = models.CheckNameResult.model_validate(EXAMPLE_CHECK_NAME_RESPONSE)
    assert result.name_available is False and result.reason is None


def test_models_keep_unknown_enum_values_the_service_may_add():
    properties = models.SandboxCustomImageProperties.model_validate({"provisioningState": "Updating"})
    assert properties.provisioning_state == "Updating"
    status = models.OperationResult.model_validate({"status": "Running", "percentComplete": 10})
    assert status.status is models.OperationStatus.RUNNING and not status.done
    assert models.OperationResult.model_validate({"status": "Canceled"}).done


def test_put_model_builds_the_wire_body_and_enforces_the_rules():
    body = models.CreateOrUpdateSandboxCustomImage.build(base_image_name="Python3_11_7", requirements_file_content="numpy")
    assert body.to_json_dict() == {"properties": {"language": "Python", "baseImageName": "Python3_11_7", "requirementsFileContent": "numpy"}}
    with pytest.raises(ValidationError, match="exactly one of languageVersion and baseImageName must be specified, got both"):
        models.CreateOrUpdateSandboxCustomImage.build(language_version="3.10.8", base_image_name="Python3_10_8")
    with pytest.raises(ValidationError, match="got neither"):
        models.CreateOrUpdateSandboxCustomImage.build()
    with pytest.raises(ValidationError, match="language must be 'Python'"):
        models.CreateOrUpdateSandboxCustomImage.build(language="R", language_version="4.2")
    with pytest.raises(ValidationError) as missing:
        models.CreateOrUpdateSandboxCustomImage.model_validate({"properties": {"languageVersion": "3.10.8"}})
    assert missing.value.errors()[0]["loc"] == ("properties", "language")


def test_patch_and_check_name_models():
    assert models.UpdateSandboxCustomImage.model_validate({"properties": {"requirementsFileContent": "x"}}).to_json_dict() == {
        "properties": {"requirementsFileContent": "x"}
    }
    switch = models.UpdateSandboxCustomImage(
        properties=models.UpdateSandboxCustomImageProperties(language_version=None, base_image_name="Python3_11_7")
    )
    assert switch.to_json_dict() == {"properties": {"languageVersion": None, "baseImageName": "Python3_11_7"}}
    assert models.UpdateSandboxCustomImage().to_json_dict() == {"properties": {}}
    with pytest.raises(ValidationError, match="language must be 'Python'"):
        models.UpdateSandboxCustomImage.model_validate({"properties": {"language": "R"}})
    with pytest.raises(ValidationError, match="got both"):
        models.UpdateSandboxCustomImageProperties(language_version="3.10.8", base_image_name="Python3_10_8")
    with pytest.raises(ValidationError, match="languageVersion must be a Python version"):
        models.UpdateSandboxCustomImageProperties(language_version="three")
    assert models.CheckNameRequest(name="n").to_json_dict() == {"name": "n", "type": models.CHECK_NAME_TYPE}
    with pytest.raises(ValidationError, match="type must be"):
        models.CheckNameRequest(name="n", type="Microsoft.Kusto/clusters")


def test_error_and_operation_models_round_trip():
    error = {"error": {"code": "BadRequest", "message": "m", "target": "t", "details": [{"code": "c", "message": "d"}], "additionalInfo": [{"type": "x", "info": {"a": 1}}]}}
    parsed = models.ErrorResponse.model_validate(error)
    assert parsed.error.details[0].code == "c" and parsed.error.additional_info[0].info == {"a": 1}
    assert parsed.to_json_dict() == error
    with pytest.raises(ValidationError):
        models.OperationResult.model_validate({"status": "InProgress", "percentComplete": 101})
    assert models.OperationStatusResult is models.OperationResult
    assert set(models.MANAGED_BASE_IMAGE_NAMES) < set(models.LANGUAGE_EXTENSION_IMAGE_NAMES)
    assert models.is_managed_base_image("Python3_10_8_DL") and not models.is_managed_base_image("PythonCustomImage")
