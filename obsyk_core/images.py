"""Container images in use, from the Pod records' containers and init containers.

Output is bounded (a fleet can run tens of thousands of pods): at most
``images_limit`` images, most used first, each with at most ``where_limit``
placements; the full pod count is always reported.  A pod running one image
twice (say as init and main container) counts once.

:meth:`obsyk_core.storage.Storage.image_usage` answers with these rules; a
backend that can aggregates in its database (the SQL backend on PostgreSQL),
the default here reads only the two fields of each Pod it needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The Pod record fields that name images: all the summary reads of a Pod.
POD_IMAGE_FIELDS = ("containers", "init_containers")


@dataclass(frozen=True, slots=True)
class ImagePlacement:
    cluster_id: str
    namespace: str | None
    pod: str
    uid: str


@dataclass(slots=True)
class ImageUse:
    image: str
    #: Live pods running it (all of them, however many placements are listed).
    pods: int = 0
    #: At most ``where_limit``, in listing order (namespace, name, cluster, uid).
    where: list[ImagePlacement] = field(default_factory=list)

    @property
    def where_truncated(self) -> bool:
        return self.pods > len(self.where)


def pod_images(record: Mapping[str, Any]) -> set[str]:
    """Distinct images of a Pod record."""
    images = set()
    for key in POD_IMAGE_FIELDS:
        for container in record.get(key) or ():
            image = container.get("image") if isinstance(container, Mapping) else None
            if isinstance(image, str) and image:
                images.add(image)
    return images


def images_in_use(
    pods: Iterable[Any],
    *,
    images_limit: int,
    where_limit: int,
    image_contains: str | None = None,
) -> tuple[list[ImageUse], bool]:
    """(images most used first, then by name; whether images were left out).

    ``pods`` are resource rows of live Pods in listing order; ``image_contains``
    keeps only the images whose name contains it.
    """
    uses: dict[str, ImageUse] = {}
    for pod in pods:
        for image in pod_images(pod.record):
            if image_contains and image_contains not in image:
                continue
            use = uses.get(image)
            if use is None:
                use = uses[image] = ImageUse(image)
            use.pods += 1
            if len(use.where) < where_limit:
                use.where.append(ImagePlacement(pod.cluster_id, pod.namespace, pod.name, pod.uid))
    ranked = sorted(uses.values(), key=lambda use: (-use.pods, use.image))
    return ranked[:images_limit], len(ranked) > images_limit
