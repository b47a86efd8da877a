"""Container images in use, from the Pod records' containers and init containers.

Output is bounded (a fleet can run tens of thousands of pods): at most
``images_limit`` images, most used first, each with at most ``where_limit``
placements; the full pod count is always reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from obsyk_core.storage import ResourceRow


@dataclass(slots=True)
class ImageUse:
    image: str
    pods: int = 0
    where: list[dict[str, Any]] = field(default_factory=list)
    where_truncated: bool = False


#: The Pod record fields that name images: all the summary reads of a Pod.
POD_IMAGE_FIELDS = ("containers", "init_containers")


def pod_images(record: Mapping[str, Any]) -> set[str]:
    """Distinct images of a Pod record (a pod running one image twice counts once)."""
    images = set()
    for key in POD_IMAGE_FIELDS:
        for container in record.get(key) or ():
            image = container.get("image") if isinstance(container, Mapping) else None
            if isinstance(image, str) and image:
                images.add(image)
    return images


def images_in_use(
    pods: Iterable[ResourceRow], *, images_limit: int, where_limit: int
) -> tuple[list[ImageUse], bool]:
    """(images most used first, whether images were left out)."""
    uses: dict[str, ImageUse] = {}
    for pod in pods:
        for image in pod_images(pod.record):
            use = uses.get(image)
            if use is None:
                use = uses[image] = ImageUse(image)
            use.pods += 1
            if len(use.where) < where_limit:
                use.where.append(
                    {"cluster_id": pod.cluster_id, "namespace": pod.namespace, "pod": pod.name}
                )
            else:
                use.where_truncated = True
    ranked = sorted(uses.values(), key=lambda use: (-use.pods, use.image))
    return ranked[:images_limit], len(ranked) > images_limit
