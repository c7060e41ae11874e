"""Metric protocols by name: how a set is scored, so that a number says how it was made.

- "paper": the StyleAligned paper's table (and the seeds' table): CLIP ViT-B/32 text alignment of
  each image against "<object>, <style>", and DINO set consistency over every image of the set,
  the reference included.
- "pack": this pack's earlier choice: CLIP ViT-L/14 against the object prompt with the style text
  removed (is the object there, regardless of style), and DINO set consistency over the targets
  only (the reference rows left out).
"""

from dataclasses import dataclass

from .embeddings import CLIP_DEFAULT


@dataclass(frozen=True)
class Protocol:
    name: str
    clip_model: str  # the CLIP the numbers were measured with
    style_in_text: bool  # CLIP compares with "<object>, <style>" (else the object prompt alone)
    reference_in_set: bool  # DINO set consistency counts the reference rows too
    description: str


PROTOCOLS = {
    "paper": Protocol("paper", "openai/clip-vit-base-patch32", True, True,
                      "StyleAligned's table: CLIP ViT-B/32 against '<object>, <style>'; DINO set consistency over "
                      "every image, the reference included"),
    "pack": Protocol("pack", CLIP_DEFAULT, False, False,
                     "CLIP ViT-L/14 against the object prompt without the style; DINO set consistency over the "
                     "targets only"),
}


def protocol(name):
    """The protocol called `name`, or a ValueError listing the ones there are."""
    if name not in PROTOCOLS:
        raise ValueError(f"protocol: '{name}' is not a metric protocol; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def scored_rows(count, references, chosen):
    """The rows of a set of `count` images (the first `references` of them references) that set
    consistency is computed over under the protocol `chosen`."""
    if references < 0 or references >= count:
        raise ValueError(f"reference_rows: {references} reference rows leave no target among {count} images; "
                         f"use 0..{count - 1}")
    first = 0 if chosen.reference_in_set else references
    return list(range(first, count))
