"""What each blob a project references is used for: latents (noise, checkpoints, final
latent) or decoded audio. Stored in `blobs.kind` and checked against the tensor names."""

from __future__ import annotations

from melodex_studio.project.models import Project


def blob_kinds(project: Project) -> dict[str, str]:
    """ref -> "latent" | "audio" for every blob the project references."""
    kinds: dict[str, str] = {}
    for section in project.sections:
        for take in section.takes:
            if take.audio is not None:
                kinds[take.audio] = "audio"
            for ref in take.tensor_refs():
                kinds[ref] = "latent"
    return kinds
