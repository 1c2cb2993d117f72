"""Automatic moderation checks: each looks at one asset and says approve, reject, or
"unsure" (pending, for a human), with a score and a reason people can read.

Every check has two thresholds in the upload preset (`check_settings`, over DEFAULTS): a
clear pass approves, a clear fail rejects, in between stays pending.

- content_safety: the ONNX detector that ships inside `nudenet` (loaded once per worker
  process, offline). Score: the highest confidence of an explicit-nudity class, 0..1.
- min_size: width and height against a minimum (and a comfortable size above it).
- blur: variance of the Laplacian of a greyscale copy (1024 px on the long side); low
  means blurry.
- file_size: bytes against a minimum and a maximum.
- near_duplicates: the smallest Hamming distance between the asset's 64-bit perceptual
  hash and any other live asset's (computed in PostgreSQL).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from moderation.models import Check, Outcome

DEFAULTS: dict[str, dict[str, float]] = {
    Check.CONTENT_SAFETY: {"approve_below": 0.3, "reject_at": 0.6},
    Check.MIN_SIZE: {"reject_below": 200, "approve_at": 400},  # pixels, each side
    Check.BLUR: {"reject_below": 20.0, "approve_at": 100.0},  # Laplacian variance
    Check.FILE_SIZE: {"min_bytes": 1024, "max_bytes": 200 * 1024 * 1024},
    Check.NEAR_DUPLICATES: {"reject_within": 4, "approve_beyond": 10},  # bits of 64
}
LIMITS: dict[str, tuple[float, float]] = {  # what a threshold may be set to
    "approve_below": (0.0, 1.0),
    "reject_at": (0.0, 1.0),
    "reject_below": (0.0, 1e9),
    "approve_at": (0.0, 1e9),
    "min_bytes": (0, 2**62),
    "max_bytes": (1, 2**62),
    "reject_within": (0, 64),
    "approve_beyond": (0, 64),
}
EXPLICIT = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)
BLUR_SIDE = 1024


@dataclass
class Result:
    check: str
    outcome: str
    score: float | None
    reason: str
    details: dict = field(default_factory=dict)


def settings_for(preset_settings: dict | None, check: str) -> dict[str, float]:
    merged = dict(DEFAULTS[check])
    merged.update((preset_settings or {}).get(check) or {})
    return merged


def clean_settings(raw) -> dict:
    """Validate a preset's `check_settings`; raises ValueError with a readable message."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValueError("Check settings are an object keyed by check name.")
    cleaned: dict[str, dict[str, float]] = {}
    for check, values in raw.items():
        if check not in DEFAULTS:
            raise ValueError(f"There is no automatic check “{str(check)[:40]}”.")
        if not isinstance(values, dict):
            raise ValueError(f"Settings of {check} are an object of thresholds.")
        out = {}
        for key, value in values.items():
            if key not in DEFAULTS[check]:
                names = ", ".join(DEFAULTS[check])
                raise ValueError(f"{check} takes {names}; not “{str(key)[:40]}”.")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{check}.{key} is a number.")
            low, high = LIMITS[key]
            if not low <= value <= high:
                raise ValueError(f"{check}.{key} is between {low:g} and {high:g}.")
            out[key] = value
        merged = {**DEFAULTS[check], **out}
        _check_order(check, merged)
        cleaned[check] = out
    return cleaned


def _check_order(check: str, s: dict) -> None:
    pairs = {
        Check.CONTENT_SAFETY: ("approve_below", "reject_at", "approve_below ≤ reject_at"),
        Check.MIN_SIZE: ("reject_below", "approve_at", "reject_below ≤ approve_at"),
        Check.BLUR: ("reject_below", "approve_at", "reject_below ≤ approve_at"),
        Check.FILE_SIZE: ("min_bytes", "max_bytes", "min_bytes ≤ max_bytes"),
        Check.NEAR_DUPLICATES: (
            "reject_within",
            "approve_beyond",
            "reject_within ≤ approve_beyond",
        ),
    }
    low, high, rule = pairs[check]
    if s[low] > s[high]:
        raise ValueError(f"{check}: {rule}.")


# -- content safety -------------------------------------------------------------------------
_detector = None
_detector_lock = threading.Lock()
model_loads = 0  # how many times this process loaded the model (tests check it is once)


def detector():
    """The nudenet detector of this process, loaded on first use from the package's own
    ONNX file (no download)."""
    global _detector, model_loads
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from nudenet import NudeDetector

                _detector = NudeDetector()
                model_loads += 1
    return _detector


def safety_score(image) -> tuple[float, list[dict]]:
    """(score, detections) for a PIL image: the highest explicit-class confidence."""
    import numpy as np

    rgba = np.asarray(image.convert("RGBA"))  # nudenet converts RGBA to its BGR input
    detections = detector().detect(rgba)
    explicit = [d for d in detections if d["class"] in EXPLICIT]
    score = max((float(d["score"]) for d in explicit), default=0.0)
    return round(score, 4), detections


def content_safety(image, s: dict) -> Result:
    if image is None:
        return Result(Check.CONTENT_SAFETY, Outcome.PENDING, None, "No image to check.")
    score, detections = safety_score(image)
    details = {
        "detections": [
            {"class": d["class"], "score": round(float(d["score"]), 4)} for d in detections
        ]
    }
    if score >= s["reject_at"]:
        reason = f"Explicit content detected (score {score:.2f} ≥ {s['reject_at']:g})."
        return Result(Check.CONTENT_SAFETY, Outcome.REJECT, score, reason, details)
    if score < s["approve_below"]:
        reason = f"No explicit content found (score {score:.2f})."
        return Result(Check.CONTENT_SAFETY, Outcome.APPROVE, score, reason, details)
    reason = f"Possibly explicit (score {score:.2f}): needs a human look."
    return Result(Check.CONTENT_SAFETY, Outcome.PENDING, score, reason, details)


# -- quality ------------------------------------------------------------------------------------
def min_size(width, height, s: dict) -> Result:
    if not width or not height:
        return Result(Check.MIN_SIZE, Outcome.APPROVE, None, "No pixel size to check.")
    short = min(width, height)
    size = f"{width} × {height} px"
    if short < s["reject_below"]:
        reason = f"Too small: {size} (at least {s['reject_below']:g} px a side)."
        return Result(Check.MIN_SIZE, Outcome.REJECT, float(short), reason)
    if short >= s["approve_at"]:
        return Result(Check.MIN_SIZE, Outcome.APPROVE, float(short), f"Large enough: {size}.")
    reason = f"Small: {size}; below the comfortable {s['approve_at']:g} px a side."
    return Result(Check.MIN_SIZE, Outcome.PENDING, float(short), reason)


def blur_score(image) -> float:
    """Variance of the Laplacian of a greyscale copy at a fixed size."""
    import cv2
    import numpy as np

    grey = image.convert("L")
    scale = BLUR_SIDE / max(grey.size)
    if scale < 1:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))))
    return round(float(cv2.Laplacian(np.asarray(grey), cv2.CV_64F).var()), 2)


def blur(image, s: dict) -> Result:
    if image is None:
        return Result(Check.BLUR, Outcome.PENDING, None, "No image to check.")
    score = blur_score(image)
    if score < s["reject_below"]:
        reason = f"Blurry (sharpness {score:.1f} < {s['reject_below']:g})."
        return Result(Check.BLUR, Outcome.REJECT, score, reason)
    if score >= s["approve_at"]:
        return Result(Check.BLUR, Outcome.APPROVE, score, f"Sharp (sharpness {score:.1f}).")
    reason = f"Soft (sharpness {score:.1f}): needs a human look."
    return Result(Check.BLUR, Outcome.PENDING, score, reason)


def file_size(size: int, s: dict) -> Result:
    from django.template.defaultfilters import filesizeformat

    shown = filesizeformat(size)
    if size < s["min_bytes"]:
        reason = f"File too small ({shown}; at least {filesizeformat(s['min_bytes'])})."
        return Result(Check.FILE_SIZE, Outcome.REJECT, float(size), reason)
    if size > s["max_bytes"]:
        reason = f"File too large ({shown}; at most {filesizeformat(s['max_bytes'])})."
        return Result(Check.FILE_SIZE, Outcome.REJECT, float(size), reason)
    return Result(Check.FILE_SIZE, Outcome.APPROVE, float(size), f"File size {shown}.")


# -- near-duplicates ----------------------------------------------------------------------------
def nearest_duplicate(asset) -> tuple[int | None, int | None]:
    """(distance, asset id) of the closest other live asset by perceptual hash."""
    from django.db import connection

    if not asset.phash:
        return None, None
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, bit_count(('x' || phash)::bit(64) # ('x' || %s)::bit(64)) AS d
            FROM assets_asset
            WHERE phash <> '' AND id <> %s AND deleted_at IS NULL
            ORDER BY d, id LIMIT 1
            """,
            [asset.phash, asset.pk],
        )
        row = cursor.fetchone()
    return (None, None) if row is None else (int(row[1]), int(row[0]))


def near_duplicates(asset, s: dict) -> Result:
    distance, other = nearest_duplicate(asset)
    if distance is None:
        return Result(Check.NEAR_DUPLICATES, Outcome.APPROVE, None, "Nothing to compare with.")
    details = {"nearest": other, "distance": distance}
    if distance <= s["reject_within"]:
        reason = f"Near-duplicate of an existing asset (distance {distance} of 64)."
        return Result(Check.NEAR_DUPLICATES, Outcome.REJECT, float(distance), reason, details)
    if distance > s["approve_beyond"]:
        reason = f"No near-duplicate (closest is {distance} of 64 bits away)."
        return Result(Check.NEAR_DUPLICATES, Outcome.APPROVE, float(distance), reason, details)
    reason = f"Similar to an existing asset (distance {distance} of 64): needs a human look."
    return Result(Check.NEAR_DUPLICATES, Outcome.PENDING, float(distance), reason, details)


def combine(results: list[Result]) -> str:
    """Any reject rejects; all approve approves; otherwise a human decides."""
    outcomes = {r.outcome for r in results}
    if Outcome.REJECT in outcomes:
        return Outcome.REJECT
    if outcomes <= {Outcome.APPROVE}:
        return Outcome.APPROVE
    return Outcome.PENDING
