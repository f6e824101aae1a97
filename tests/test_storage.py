"""s3:// inputs and outputs (restore.storage) on an S3 service served by moto on 127.0.0.1,
with the local engine: the same files as a local folder run, failures named by location,
outputs never replaced without --overwrite, no temporary object left. A few seconds."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from restore.io import encode_image, read_image, write_image
from restore.storage import RemotePath, as_path

pytest.importorskip("pyarrow.fs")


def invoke(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def objects(client, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix/`` by key relative to it."""
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])
    return {o["Key"][len(prefix) + 1:]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def noisy(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def test_remote_path_arithmetic():
    p = as_path("s3://bkt/in/sub/a.png")
    assert isinstance(p, RemotePath) and str(p) == "s3://bkt/in/sub/a.png"
    assert (p.name, p.stem, p.suffix) == ("a.png", "a", ".png")
    assert str(p.with_suffix(".jpg")) == "s3://bkt/in/sub/a.jpg" and str(p.parent / "b.png") == "s3://bkt/in/sub/b.png"
    assert p.relative_to(as_path("s3://bkt/in")).as_posix() == "sub/a.png"
    assert p.is_relative_to(as_path("s3://bkt/in")) and not p.is_relative_to(as_path("s3://bkt/out"))
    assert p == RemotePath("s3://bkt/in/sub/a.png/") and len({p, as_path("s3://bkt/in/sub/a.png")}) == 1
    with pytest.raises(ValueError, match="not an s3://BUCKET/KEY"):
        RemotePath("s3://")


def test_s3_folder_run_matches_local_and_never_overwrites(s3_bucket, tmp_path, cached_pipelines):
    client, bucket = s3_bucket
    images = {"a.png": noisy(24, 32, seed=1), "sub/b.png": noisy(16, 16, c=4, seed=2)}
    for rel, image in images.items():
        write_image(tmp_path / "in" / rel, image)
        client.put_object(Bucket=bucket, Key=f"in/{rel}", Body=(tmp_path / "in" / rel).read_bytes())
    (tmp_path / "in" / "sub" / "broken.png").write_bytes(b"not a png")
    client.put_object(Bucket=bucket, Key="in/sub/broken.png", Body=b"not a png")
    args = ("--sigma", "25", "--recursive", "--format", "jpg", "--quiet")
    code_local, text_local = invoke("denoise", tmp_path / "in", tmp_path / "local", *args)
    code, text = invoke("denoise", f"s3://{bucket}/in", f"s3://{bucket}/out", *args)
    assert code_local == code == 1 and "3 written" not in text
    assert "2 written, 0 skipped, 1 failed" in text and f"failed: s3://{bucket}/in/sub/broken.png: " in text
    local = {p.relative_to(tmp_path / "local").as_posix(): p.read_bytes()
             for p in sorted((tmp_path / "local").rglob("*")) if p.is_file()}
    out = objects(client, bucket, "out")
    assert sorted(out) == ["a.jpg", "sub/b.png"] and out == local  # alpha: png; no temporary object
    assert read_image(f"s3://{bucket}/out/a.jpg").shape == (24, 32, 3)

    client.put_object(Bucket=bucket, Key="out/a.jpg", Body=b"kept")        # an output that is not ours
    code, text = invoke("denoise", f"s3://{bucket}/in", f"s3://{bucket}/out", *args)
    assert code == 1 and "0 written, 0 skipped, 3 failed" in text and "use --overwrite or --skip-existing" in text
    assert objects(client, bucket, "out")["a.jpg"] == b"kept"
    code, text = invoke("denoise", f"s3://{bucket}/in", f"s3://{bucket}/out", *args, "--skip-existing")
    assert "0 written, 2 skipped, 1 failed" in text and objects(client, bucket, "out")["a.jpg"] == b"kept"
    code, text = invoke("denoise", f"s3://{bucket}/in", f"s3://{bucket}/out", *args, "--overwrite")
    assert "2 written, 0 skipped, 1 failed" in text and objects(client, bucket, "out") == local


def test_s3_missing_input_is_a_usage_error(s3_bucket, tmp_path):
    client, bucket = s3_bucket
    code, text = invoke("denoise", f"s3://{bucket}/nothing", tmp_path / "out", "--sigma", "25", "--quiet")
    assert code == 2 and f"s3://{bucket}/nothing" in text and "not found" in text


def test_s3_single_object_and_local_output(s3_bucket, tmp_path):
    client, bucket = s3_bucket
    image = noisy(8, 8)
    client.put_object(Bucket=bucket, Key="one/x.png", Body=encode_image(image, "png"))
    from restore.engines import run_folder
    result = run_folder(lambda: (lambda im, p: 255 - im), f"s3://{bucket}/one/x.png", tmp_path / "out", progress=False)
    assert [(str(s), d) for s, d in result.written] == [(f"s3://{bucket}/one/x.png", tmp_path / "out" / "x.png")]
    assert np.array_equal(read_image(tmp_path / "out" / "x.png"), 255 - image)


def test_s3_inputs_pair_with_local_masks(s3_bucket, tmp_path, cached_pipelines):
    """inpaint with INPUT in S3 and --masks a local folder: masks paired by relative path."""
    from restore.ops.degrade.masks import center_mask
    client, bucket = s3_bucket
    mask = (center_mask(64, 64) * 255).astype(np.uint8)
    write_image(tmp_path / "masks" / "sub" / "x.png", mask)
    write_image(tmp_path / "masks" / "x.png", 255 - mask)              # same stem, other folder: not x's
    for rel in ("sub/x.png", "y.png"):
        client.put_object(Bucket=bucket, Key=f"in/{rel}", Body=encode_image(noisy(64, 64, seed=7), "png"))
    code, text = invoke("inpaint", f"s3://{bucket}/in", tmp_path / "out", "--masks", tmp_path / "masks", "--recursive",
                        "--model", "gan-faces-64", "--steps", "2", "--quiet")
    assert code == 1 and "1 written, 0 skipped, 1 failed" in text and "no mask for y.png" in text
    out = read_image(tmp_path / "out" / "sub" / "x.png")
    kept = center_mask(64, 64) == 0  # outside the paired mask: the input as it was (not so with the other mask)
    assert np.array_equal(out[kept], noisy(64, 64, seed=7)[kept]) and not np.array_equal(out, noisy(64, 64, seed=7))
