"""The clusters and sandbox custom images Kusto starts with.

The demo cluster holds the official examples' images plus a realistic
handful, then any number of generated images (plain dicts, one sort: 100,000
take a fraction of a second); a second, small dev cluster sits beside it.
"""

from __future__ import annotations

from workbench.providers.kusto.models import MANAGED_BASE_IMAGE_NAMES
from workbench.sim.kusto_state import Cluster, KustoState


def seed(state: KustoState) -> None:
    """The demo cluster (catalog and ``seed_images`` generated images) and the dev cluster."""
    demo = state.ctx.demo
    cluster = state.add_cluster(
        demo.kusto_subscription_id, demo.kusto_resource_group, demo.kusto_cluster, demo.kusto_location
    )
    for name, props in CATALOG:
        cluster.images[name.lower()] = _record(name, props)
    _generate_images(cluster, state.ctx.config.seed_images)
    cluster.order = sorted(cluster.images)

    dev = state.add_cluster(demo.kusto_subscription_id, demo.kusto_resource_group, "kustoDevCluster", "westus")
    for name, props in DEV_CATALOG:
        dev.add(name.lower(), _record(name, props))


def _record(name: str, props: dict) -> dict:
    return {"name": name, "properties": {"language": "Python", **props, "provisioningState": "Succeeded"}, "operation": None}


# The examples' images (customImage1/2/7/8, sandboxCustomImage1) plus a realistic handful.
CATALOG: tuple[tuple[str, dict], ...] = (
    ("customImage1", {"languageVersion": "3.10.8", "requirementsFileContent": "numpy==1.26.4\npandas==2.2.2"}),
    ("customImage2", {"baseImageName": "customImage1", "requirementsFileContent": "Requests"}),
    ("customImage7", {"languageVersion": "3.10.8", "requirementsFileContent": "Requests"}),
    ("customImage8", {"languageVersion": "3.10.8", "requirementsFileContent": "Requests"}),
    ("sandboxCustomImage1", {"baseImageName": "Python3_11_7", "requirementsFileContent": "scikit-learn==1.4.2\nscipy==1.12.0"}),
    ("torchInference", {"baseImageName": "Python3_10_8_DL", "requirementsFileContent": "torch==2.2.1\ntorchvision==0.17.1\nonnxruntime==1.17.1"}),
    ("geoAnalytics", {"languageVersion": "3.11.7", "requirementsFileContent": "shapely==2.0.3\ngeopandas==0.14.3\npyproj==3.6.1"}),
    ("nlpTextTools", {"baseImageName": "Python3_11_7_DL", "requirementsFileContent": "transformers==4.38.2\nsentencepiece==0.2.0\ntokenizers==0.15.2"}),
    ("legacyForecasting", {"baseImageName": "Python3_6_5", "requirementsFileContent": "statsmodels==0.12.2\nnumpy==1.19.5"}),
    ("anomalyDetection", {"baseImageName": "customImage1", "requirementsFileContent": "pyod==1.1.3\nadtk==0.6.2"}),
)

DEV_CATALOG: tuple[tuple[str, dict], ...] = (
    ("devScratch", {"languageVersion": "3.11.7", "requirementsFileContent": "rich==13.7.1"}),
    ("devNotebooks", {"baseImageName": "Python3_10_8", "requirementsFileContent": "jupyterlab==4.1.5\nipywidgets==8.1.2"}),
)

_GENERATED_REQUIREMENTS = (
    "Requests",
    "numpy==1.26.4",
    "pandas==2.2.2\npyarrow==15.0.2",
    "scikit-learn==1.4.2",
    "lightgbm==4.3.0",
    "",
)


def _generate_images(cluster: Cluster, count: int) -> None:
    """``count`` more images as plain dicts (100,000 take a fraction of a second)."""
    bases = MANAGED_BASE_IMAGE_NAMES
    requirements = _GENERATED_REQUIREMENTS
    images = cluster.images
    width = max(6, len(str(count)))
    for i in range(1, count + 1):
        name = f"seedImage{i:0{width}d}"
        if i % 3:
            props = {"language": "Python", "baseImageName": bases[i % len(bases)]}
        else:
            props = {"language": "Python", "languageVersion": "3.11.7" if i % 2 else "3.10.8"}
        req = requirements[i % len(requirements)]
        if req:
            props["requirementsFileContent"] = req
        props["provisioningState"] = "Succeeded"
        images[name.lower()] = {"name": name, "properties": props, "operation": None}


__all__ = ["CATALOG", "DEV_CATALOG", "seed"]
