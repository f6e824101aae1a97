"""JPEG compression-history detection (restore.ops.jpeg_history)."""

import numpy as np
import pytest
import torch

from restore.ops.degrade import jpeg_roundtrip
from restore.ops.jpeg_history import JPEG_HISTORY_THRESHOLD, has_jpeg_history, jpeg_history_score


def photo_like(seed: int = 0, h: int = 240, w: int = 320) -> np.ndarray:
    """A never-compressed, photo-like uint8 RGB image: smooth shapes at several scales plus sensor-like noise."""
    import cv2
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for k in (4, 16, 48):
        field = rng.normal(size=(h // k + 2, w // k + 2, 3)).astype(np.float32)
        img += cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC) * (60.0 / np.sqrt(k))
    img += rng.normal(0, 2.0, img.shape)
    return np.clip(img + 128, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_never_saved_images_score_low(seed):
    assert jpeg_history_score(photo_like(seed)) < JPEG_HISTORY_THRESHOLD / 2
    assert not has_jpeg_history(photo_like(seed))


@pytest.mark.parametrize("quality", [50, 75, 90])
def test_jpeg_saved_images_are_found(quality):
    saved = jpeg_roundtrip(photo_like(quality), quality)
    assert jpeg_history_score(saved) > 2 * JPEG_HISTORY_THRESHOLD
    assert has_jpeg_history(saved)


def test_the_trace_is_lost_off_the_grid():
    """A JPEG cropped by a number of pixels that is not a multiple of 8 no longer shows its grid (a stated limit)."""
    saved = jpeg_roundtrip(photo_like(3), 75)
    assert has_jpeg_history(saved[8:, 16:])
    assert not has_jpeg_history(saved[3:, 5:])


def test_every_input_kind_gives_the_same_score():
    saved = jpeg_roundtrip(photo_like(4), 80)
    s = jpeg_history_score(saved)
    assert jpeg_history_score(saved.astype(np.uint16) * 257) == pytest.approx(s, abs=1e-6)
    assert jpeg_history_score(saved.astype(np.float32) / 255) == pytest.approx(s, abs=1e-4)
    t = torch.from_numpy(saved).permute(2, 0, 1).float() / 255
    assert jpeg_history_score(t) == pytest.approx(s, abs=1e-4)
    assert jpeg_history_score(t[None]) == pytest.approx(s, abs=1e-4)
    assert jpeg_history_score(np.dstack([saved, np.full(saved.shape[:2], 255, np.uint8)])) == pytest.approx(s)


def test_small_flat_and_bad_inputs():
    assert jpeg_history_score(np.zeros((7, 100, 3), np.uint8)) == 0.0
    assert jpeg_history_score(np.full((64, 64), 128, np.uint8)) == 0.0       # no coefficient to score
    with pytest.raises(TypeError):
        jpeg_history_score(np.zeros((16, 16), np.int32))
    with pytest.raises(ValueError):
        jpeg_history_score(np.zeros((16, 16, 5), np.uint8))
    with pytest.raises(ValueError):
        jpeg_history_score(torch.zeros(2, 3, 16, 16))
