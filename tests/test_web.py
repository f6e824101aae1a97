"""``restore serve`` end to end in a real browser: Debian's ``chromium`` driven by Playwright
(pointed at /usr/bin/chromium; no browser is downloaded) against the app started on a free
local port. Each tab is used as a person would: upload, paint, run, download; the files
downloaded are compared with what ``restore TASK`` writes for the same image, options and mask.

With ``RESTORE_WEB_SCREENSHOTS=docs`` a screenshot of each tab is written to
``docs/web_<tab>.png`` (the README's pictures). About 40 s on 2 CPU cores.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from restore.io import read_image, write_image

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SHOTS = os.environ.get("RESTORE_WEB_SCREENSHOTS")


def _need(module: str):
    """Import ``module``; the web tests fail (not skip) without it: CI installs ``.[test]``."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{module} is not installed: pip install -e '.[test]' (the browser tests run in CI)")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (CI runs as root)."""
    if not Path(CHROMIUM).exists() and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, timeout=600)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found and could not be installed: apt-get install -y chromium")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``restore serve`` on a free port (default limits), until the module's tests are done."""
    _need("gradio")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, str(REPO / "cli.py"), "serve", "--port", str(port), "--device", "cpu",
                             "--quiet"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"restore serve exited with {proc.returncode}:\n{proc.stdout.read().decode()}")
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("restore serve did not answer within 90 s")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def page(server, chromium):
    playwright = _need("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        pg.set_default_timeout(60_000)
        pg.goto(server)
        pg.wait_for_selector("#denoise-input")
        yield pg
        browser.close()


def _shot(page, tab: str) -> None:
    """Screenshot of the page as ``$RESTORE_WEB_SCREENSHOTS/web_<tab>.png`` (256 colors, small)."""
    if not SHOTS:
        return
    from PIL import Image
    out = Path(SHOTS) / f"web_{tab}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    Image.open(out).convert("RGB").quantize(192).save(out, optimize=True)
    assert out.stat().st_size < 300_000, f"{out} is {out.stat().st_size} bytes"


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()   # "Colorize" is not "Colorize with hints"


def _download(page, selector: str, dest: Path, index: int = 0) -> Path:
    link = page.locator(f"{selector} a[download]").nth(index)
    try:
        link.wait_for()
    except Exception:
        page.screenshot(path=str(dest / "failed.png"))
        raise
    with page.expect_download() as d:
        link.click()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / d.value.suggested_filename
    d.value.save_as(path)
    return path


def _stroke(page, editor: str) -> None:
    """Paint one brush stroke with the mouse across the middle of the editor's canvas."""
    canvas = page.locator(f"{editor} canvas").first
    canvas.wait_for()
    page.wait_for_timeout(1500)  # the background is drawn after the upload event
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 60, cy - 20)
    page.mouse.down()
    for i in range(1, 13):
        page.mouse.move(cx - 60 + 10 * i, cy - 20 + 3 * i, steps=2)
    page.mouse.up()


def _wait_idle(page) -> None:
    """Wait until the job started shows no progress (Gradio writes "processing | N s")."""
    try:  # a fast job may be done before its progress is seen
        page.wait_for_function("() => document.body.innerText.includes('processing')", timeout=3_000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError
        pass
    page.wait_for_function("() => !document.body.innerText.includes('processing')")


def _cli(*args: str) -> None:
    """``restore ARGS`` in a new process, as the server runs (same torch thread count: the
    latent search of inpaint is not bit-exact across thread counts)."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, str(REPO / "cli.py"), *args, "--device", "cpu", "--quiet"], cwd=REPO,
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A 96 x 96 crop of examples/Frog.png (RGB PNG)."""
    im = read_image(REPO / "examples" / "Frog.png")[..., :3]
    s = min(im.shape[:2])
    path = tmp_path_factory.mktemp("web") / "frog.png"
    write_image(path, cv2.resize(np.ascontiguousarray(im[:s, :s]), (96, 96), interpolation=cv2.INTER_AREA))
    return path


@pytest.fixture(scope="module")
def noisy(photo: Path) -> Path:
    im = read_image(photo).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 25, im.shape)
    path = photo.with_name("noisy.png")
    write_image(path, np.clip(im + noise + 0.5, 0, 255).astype(np.uint8))
    return path


def test_denoise_two_images_downloads_equal_cli(page, noisy, tmp_path):
    second = tmp_path / "in" / "noisy2.png"  # another image: the noisy one mirrored
    write_image(second, np.ascontiguousarray(read_image(noisy)[:, ::-1]))
    shutil.copy(noisy, tmp_path / "in" / noisy.name)
    _tab(page, "Denoise")
    page.locator("#denoise-input input[type=file]").set_input_files([str(noisy), str(second)])
    page.locator("#denoise-sigma textarea, #denoise-sigma input").first.fill("25")
    page.locator("#denoise-run").click()
    got = [_download(page, "#denoise-download", tmp_path / "web", i) for i in range(2)]
    assert [p.name for p in got] == ["noisy_denoise.png", "noisy2_denoise.png"]
    _shot(page, "denoise")
    _cli("denoise", str(tmp_path / "in"), str(tmp_path / "cli"), "--sigma", "25")
    assert got[0].read_bytes() == (tmp_path / "cli" / "noisy.png").read_bytes()
    assert got[1].read_bytes() == (tmp_path / "cli" / "noisy2.png").read_bytes()
    # the slider shows the first pair; the second can be chosen
    page.locator("#denoise-compare input").click()
    page.get_by_role("option", name="noisy2_denoise.png").click(timeout=10_000)
    page.wait_for_function("() => [...document.querySelectorAll('img')].some(i => i.src.includes('noisy2_denoise'))")


def test_too_many_pixels_refused_then_next_request_served(page, noisy, tmp_path):
    big = tmp_path / "big.png"
    write_image(big, np.full((6250, 8000, 3), 128, np.uint8))  # 50 MP, a small file
    _tab(page, "Denoise")
    page.locator("#denoise-input input[type=file]").set_input_files(str(big))
    page.locator("#denoise-run").click()
    msg = page.get_by_text("this app takes images of at most 16 MP").first
    msg.wait_for()
    assert "50.0 MP" in msg.inner_text()
    # the app keeps serving: the next request works
    page.locator("#denoise-input input[type=file]").set_input_files(str(noisy))
    page.locator("#denoise-run").click()
    page.locator("#denoise-download a[download]").first.wait_for()
    assert page.locator("#denoise-download").get_by_text("noisy_denoise").count() == 1


def test_inpaint_stroke_download_equals_cli(page, photo, tmp_path):
    _tab(page, "Inpaint")
    page.locator("#inpaint-input input[type=file]").set_input_files(str(photo))
    _stroke(page, "#inpaint-editor")
    page.locator("#inpaint-run").click()
    result, raw, mask = (_download(page, "#inpaint-download", tmp_path, i) for i in range(3))
    _shot(page, "inpaint")
    m = read_image(mask)
    assert m.shape[:2] == (96, 96) and 0.02 < (m > 0).mean() < 0.5, "the stroke is the mask"
    _cli("inpaint", str(photo), str(tmp_path / "cli"), "--mask", str(mask), "--save-raw")
    assert result.read_bytes() == (tmp_path / "cli" / "frog.png").read_bytes()
    assert raw.read_bytes() == (tmp_path / "cli" / "frog_raw.png").read_bytes()
    hole = m[..., 0] > 0
    assert not np.array_equal(read_image(result)[hole], read_image(photo)[hole]), "the hole was filled"


def test_upscale_and_colorize(page, photo, tmp_path):
    _tab(page, "Upscale")
    page.locator("#upscale-input input[type=file]").set_input_files(str(photo))
    page.locator("#upscale-run").click()
    up = read_image(_download(page, "#upscale-download", tmp_path))
    assert up.shape == (384, 384, 3)
    _shot(page, "upscale")
    gray = photo.with_name("gray.png")
    write_image(gray, cv2.cvtColor(read_image(photo), cv2.COLOR_RGB2GRAY)[..., None])
    _tab(page, "Colorize")
    page.locator("#colorize-input input[type=file]").set_input_files(str(gray))
    page.locator("#colorize-run").click()
    col = read_image(_download(page, "#colorize-download", tmp_path))
    assert col.shape == (96, 96, 3) and np.abs(col.astype(int) - col[..., :1]).max() > 0, "colors were added"
    _shot(page, "colorize")


def test_unwatermark_and_models(page, photo, tmp_path):
    marked = photo.with_name("marked.png")
    im = read_image(photo).copy()
    cv2.putText(im, "(c) web", (8, 55), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    write_image(marked, im)
    _tab(page, "Unwatermark")
    page.locator("#unwatermark-input input[type=file]").set_input_files(str(marked))
    page.locator("#unwatermark-run").click()
    out = _download(page, "#unwatermark-download", tmp_path, 0)
    _download(page, "#unwatermark-download", tmp_path, 1)
    _cli("unwatermark", str(marked), str(tmp_path / "cli"), "--save-mask")
    assert out.read_bytes() == (tmp_path / "cli" / "marked.png").read_bytes()
    predicted = read_image(tmp_path / "marked_mask.png")[..., 0] > 0
    _stroke(page, "#unwatermark-editor")  # add to the mask by hand, fill again
    page.locator("#unwatermark-again").click()
    _wait_idle(page)
    again = _download(page, "#unwatermark-download", tmp_path / "again", 0)
    used = read_image(_download(page, "#unwatermark-download", tmp_path / "again", 1))[..., 0] > 0
    assert used.sum() > predicted.sum() and used[predicted].all(), "the stroke was added to the predicted mask"
    out, src = read_image(again), read_image(marked)
    assert np.array_equal(out[~used], src[~used]), "pixels outside the mask are the input's"
    assert not np.array_equal(out[used], src[used]), "the mask was filled"
    _shot(page, "unwatermark")
    _tab(page, "Models")
    table = page.locator("#models-table")
    table.wait_for()
    from restore.zoo.registry import list_models
    for name in list_models():
        assert name in table.inner_text()
    _shot(page, "models")


#: The brush color the hints test picks in the editor's color menu: its grass green
#: (``restore.web.app.HINT_COLORS``; the first color, red, is the brush's default).
HINT_RGB = (64, 160, 48)


def test_colorize_with_hints_stroke_in_a_picked_color(page, photo, tmp_path):
    """Paint one stroke in a color picked in the brush's color menu; the hint image the
    page builds is downloaded with the result, which must equal the pipeline called here
    with that same hint image (the downloaded hint file, read back)."""
    import restore

    gray = photo.with_name("gray_hints.png")
    write_image(gray, cv2.cvtColor(read_image(photo), cv2.COLOR_RGB2GRAY)[..., None])
    _tab(page, "Colorize with hints")
    page.locator("#hints-input input[type=file]").set_input_files(str(gray))
    page.locator("#hints-editor canvas").first.wait_for()
    page.wait_for_timeout(1500)
    editor = page.locator("#hints-editor")
    editor.get_by_role("button", name="Color", exact=True).click()
    swatches = editor.locator("menu.swatch button")
    swatches.first.wait_for()
    i = swatches.evaluate_all("(bs, c) => bs.findIndex(b => getComputedStyle(b).backgroundColor === c)",
                              "rgb(%d, %d, %d)" % HINT_RGB)
    assert i >= 0, "the green swatch is offered"
    swatches.nth(i).click()
    editor.get_by_role("button", name="Brush", exact=True).click()   # closes the color menu
    _stroke(page, "#hints-editor")
    page.locator("#hints-run").click()
    result, hint_file = (_download(page, "#hints-download", tmp_path, i) for i in range(2))
    assert (result.name, hint_file.name) == ("gray_hints_colorize.png", "gray_hints_hints.png")
    _shot(page, "colorize_hints")
    hint = read_image(hint_file)
    assert hint.shape[2] == 4 and hint.shape[0] == hint.shape[1], "RGBA, the square photo's shape"
    painted = hint[..., 3] > 128
    assert 0.005 < painted.mean() < 0.5, "the stroke is the hint"
    assert np.abs(np.median(hint[painted][:, :3], 0) - HINT_RGB).max() <= 3, "painted in the color picked"
    pipe = restore.load_pipeline("colorize", model="colorize-hints-s", device="cpu")
    expected = pipe(read_image(gray), read_image(hint_file))
    out = read_image(result)
    assert out.shape == (96, 96, 3) and np.array_equal(out, expected)
