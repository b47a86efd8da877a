"""Storage.image_usage: images aggregated over live Pods, however a backend does it."""

from __future__ import annotations

from typing import Any

from obsyk_core.images import ImagePlacement
from obsyk_core.ingest import IncomingResource
from obsyk_core.storage import Storage
from obsyk_core.testing.base import ConformanceBase
from obsyk_core.testing.builders import at, snapshot


def _pod(uid: str, namespace: str, *images: str, init: tuple[str, ...] = ()) -> IncomingResource:
    def containers(names: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"name": f"c{i}", "image": image} for i, image in enumerate(names)]

    record = {"uid": uid, "name": uid, "namespace": namespace, "containers": containers(images)}
    if init:
        record["init_containers"] = containers(init)
    return IncomingResource.from_record("Pod", record)


class ImageConformance(ConformanceBase):
    def _image_fleet(self, obsyk_storage: Storage) -> tuple[str, str]:
        org = obsyk_storage.create_org("acme")
        prod = obsyk_storage.create_cluster(org.id, "prod").id
        dev = obsyk_storage.create_cluster(org.id, "dev").id
        snapshot(
            obsyk_storage,
            prod,
            at(0),
            {
                "Pod": [
                    _pod("web-1", "shop", "nginx:1.25", "envoy:1.30", init=("nginx:1.25",)),
                    _pod("web-2", "shop", "nginx:1.25"),
                    _pod("job", "batch", "python:3.12"),
                    _pod("gone", "shop", "nginx:1.25"),
                    IncomingResource.from_record("Pod", {"uid": "bare", "name": "bare"}),
                ]
            },
        )
        snapshot(obsyk_storage, dev, at(0), {"Pod": [_pod("dev-web", "shop", "nginx:1.25")]})
        # A deleted pod's images are not in use.
        snapshot(
            obsyk_storage,
            prod,
            at(1),
            {
                "Pod": [
                    _pod("web-1", "shop", "nginx:1.25", "envoy:1.30", init=("nginx:1.25",)),
                    _pod("web-2", "shop", "nginx:1.25"),
                    _pod("job", "batch", "python:3.12"),
                    IncomingResource.from_record("Pod", {"uid": "bare", "name": "bare"}),
                ]
            },
        )
        return prod, dev

    def test_image_usage_counts_live_pods_most_used_first(self, obsyk_storage: Storage) -> None:
        prod, dev = self._image_fleet(obsyk_storage)
        images, truncated = obsyk_storage.image_usage([prod, dev], images_limit=10, where_limit=10)
        assert not truncated
        assert [(use.image, use.pods) for use in images] == [
            ("nginx:1.25", 3),
            ("envoy:1.30", 1),
            ("python:3.12", 1),
        ]
        assert images[0].where == [
            ImagePlacement(dev, "shop", "dev-web", "dev-web"),
            ImagePlacement(prod, "shop", "web-1", "web-1"),
            ImagePlacement(prod, "shop", "web-2", "web-2"),
        ]

    def test_image_usage_is_bounded_and_filtered(self, obsyk_storage: Storage) -> None:
        prod, dev = self._image_fleet(obsyk_storage)
        images, truncated = obsyk_storage.image_usage([prod, dev], images_limit=1, where_limit=2)
        assert truncated and [(u.image, u.pods, len(u.where)) for u in images] == [
            ("nginx:1.25", 3, 2)
        ]
        assert images[0].where_truncated
        found, _ = obsyk_storage.image_usage(
            [prod], images_limit=10, where_limit=10, image_contains="py"
        )
        assert [(u.image, u.pods) for u in found] == [("python:3.12", 1)]
        assert obsyk_storage.image_usage([], images_limit=10, where_limit=10) == ([], False)
