"""The Gradio app of ``restore serve``: one tab per task, a models panel.

Every tab reads the uploaded file as it was sent (``gr.Image(type="filepath",
image_mode=None)`` passes the uploaded file itself), runs the task through
:class:`restore.web.jobs.Models` and offers the PNG it wrote for download. Errors a user
can fix (a bad upload, too many pixels, a bad option, a model error) come back as
``gr.Error`` messages; the app keeps serving. Imports ``gradio``: only ``restore serve``
imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from restore.web.jobs import (DEFAULT_MAX_PIXELS, JobError, Models, Workspace, hint_from_layers, mask_from_layers,
                              parse_sigma, read_upload, run_hints, run_uploads)

#: Red, half transparent: how a predicted watermark mask is drawn on the editor's layer.
MASK_RGBA = (255, 0, 0, 160)


#: The brush colors offered first in the hints tab (any other can be picked): red, orange,
#: yellow, grass green, sky blue, navy, purple, skin, brown.
HINT_COLORS = ["#d02020", "#f08020", "#f0d020", "#40a030", "#60a0e0", "#203080", "#803090", "#e0b090",
               "#705030"]


#: The denoise tab's first model choice: the default model, or dae-s when a sigma is given
#: (``restore.zoo.registry.model_for_sigma``, as the CLI does without ``--model``).
AUTO_MODEL = "auto"


def _models(task: str) -> list[str]:
    from restore.zoo.registry import default_model, list_models
    names = list_models(task)
    d = default_model(task)
    return ([AUTO_MODEL] if task == "denoise" else []) + [d] + [n for n in names if n != d]


def _hint_models() -> list[str]:
    """The colorize models that take color hints, the one chosen without ``--model`` first."""
    from restore.zoo.registry import get_spec, list_models, model_for_hints
    takes = [m for m in list_models("colorize") if get_spec(m).arch_kwargs.get("hints", False)]
    if not takes:
        return []
    first = model_for_hints(True)
    return [first] + [m for m in takes if m != first]


def _settings(task: str):
    """The inference settings of ``task``'s default model (the defaults shown in its tab)."""
    from restore.zoo.registry import default_model, get_spec
    return get_spec(default_model(task)).settings


def _name(path: str | None) -> str:
    return Path(path).stem if path else "image"


def _errors(fn):
    """Run ``fn``, turning a :class:`JobError` into a ``gr.Error`` (a message in the page)."""
    import functools

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except JobError as e:
            raise gr.Error(str(e), print_exception=False) from None
    return wrapped


def _overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The 8-bit RGB image with the mask drawn over it in red (for display only)."""
    from restore.io import to_rgb8
    rgb = to_rgb8(image).astype(np.float32)
    m = (mask.astype(np.float32) / np.iinfo(mask.dtype).max)[..., None] * 0.6
    return (rgb * (1 - m) + np.array(MASK_RGBA[:3], np.float32) * m + 0.5).astype(np.uint8)


def _mask_layer(mask: np.ndarray) -> np.ndarray:
    """An RGBA editor layer showing ``mask`` (H x W, nonzero = watermark) in red."""
    layer = np.zeros(mask.shape[:2] + (4,), np.uint8)
    layer[mask > 0] = MASK_RGBA
    return layer


def build_app(*, device: str = "auto", max_pixels: int = DEFAULT_MAX_PIXELS,
              workspace: Workspace | None = None) -> gr.Blocks:
    """The app's Blocks (not launched).

    Args:
        device: where the models run (``auto``, ``cpu``, ``cuda``, ``mps``).
        max_pixels: largest image (width x height) a tab processes.
        workspace: where results are written (default: a new temporary folder).
    """
    models, ws = Models(device), workspace or Workspace()

    def upload(path: str | None, name: str | None = None) -> np.ndarray:
        if not path:
            raise JobError("upload an image first")
        return read_upload(path, max_pixels, name=name)

    def several(task: str, files: list[str] | None, model: str | None, progress: gr.Progress, **options: Any):
        """Run ``task`` on every uploaded file: the first pair in the slider, every result to download."""
        def report(i: int, n: int, name: str) -> None:
            progress((i, n), desc=name, unit="images")

        done, errors = run_uploads(models, ws, task, files or [], model, max_pixels=max_pixels, progress=report,
                                   **options)
        if not done:
            raise JobError("; ".join(errors))
        for e in errors:
            gr.Warning(e)
        pairs = [(str(src), str(out)) for src, out in done]
        names = [Path(out).name for _, out in pairs]
        return (pairs[0], [out for _, out in pairs],
                gr.update(choices=names, value=names[0], visible=len(names) > 1), pairs)

    def inputs(task: str, label: str):
        return gr.File(file_count="multiple", type="filepath", label=label, elem_id=f"{task}-input", height=160)

    def results(task: str):
        """The right column of a tab that takes several images: slider, which result it shows, downloads."""
        with gr.Column():
            slider = gr.ImageSlider(label="Before / after", type="filepath", format="png")
            choose = gr.Dropdown([], value=None, label="Before / after of", visible=False, interactive=True,
                                 elem_id=f"{task}-compare")
            files = gr.File(label="Download", file_count="multiple", elem_id=f"{task}-download", interactive=False)
        pairs = gr.State([])
        choose.input(lambda name, ps: next((tuple(p) for p in ps if Path(p[1]).name == name), gr.skip()),
                     [choose, pairs], [slider], queue=False)
        return [slider, files, choose, pairs]

    with gr.Blocks(title="restore") as demo:
        gr.Markdown("# restore\nImage restoration on this computer: pick a task, upload a photo, run, download. "
                    f"Images up to {max_pixels / 1e6:g} MP.")
        with gr.Tabs():
            # -- denoise / upscale / colorize: upload, options, run, before/after, download
            with gr.Tab("Denoise", id="denoise"):
                with gr.Row():
                    with gr.Column():
                        d_in = inputs("denoise", "Noisy photos (one or several)")
                        d_sigma = gr.Textbox("auto", label="Noise level sigma (0-75 on the 0-255 scale, or auto)",
                                             elem_id="denoise-sigma")
                        d_model = gr.Dropdown(_models("denoise"), value=_models("denoise")[0], label="Model")
                        d_run = gr.Button("Denoise", variant="primary", elem_id="denoise-run")
                    d_out = results("denoise")

                @_errors
                def d_go(files, sigma, model, progress=gr.Progress()):
                    return several("denoise", files, model, progress, sigma=parse_sigma(sigma))

                d_run.click(d_go, [d_in, d_sigma, d_model], d_out, concurrency_limit=1, concurrency_id="denoise")

            with gr.Tab("Upscale", id="upscale"):
                with gr.Row():
                    with gr.Column():
                        u_in = inputs("upscale", "Photos (one or several)")
                        u_model = gr.Dropdown(_models("upscale"), value=_models("upscale")[0], label="Model")
                        u_out = gr.Number(0, label="Output scale (0: the model's, 4)", minimum=0)
                        u_strength = gr.Slider(0, 1, value=_settings("upscale").default_strength, step=0.05,
                                               elem_id="upscale-strength",
                                               label="Strength, real-srgan-x4 and srgan-x4 only (0: smooth and "
                                                     "faithful, their PSNR model; 1: sharpest)")
                        u_run = gr.Button("Upscale", variant="primary", elem_id="upscale-run")
                    u_res = results("upscale")

                @_errors
                def u_go(files, model, outscale, strength, progress=gr.Progress()):
                    from restore.zoo.registry import get_spec
                    # only a model with a PSNR partner takes a strength; the others run at their own
                    paired = getattr(get_spec(model).settings, "psnr_partner", None) if model else None
                    return several("upscale", files, model, progress, outscale=outscale or None,
                                   strength=float(strength) if paired else None)

                u_run.click(u_go, [u_in, u_model, u_out, u_strength], u_res, concurrency_limit=1, concurrency_id="upscale")

            with gr.Tab("Colorize", id="colorize"):
                with gr.Row():
                    with gr.Column():
                        c_in = inputs("colorize", "Gray, faded or sepia photos (one or several)")
                        c_model = gr.Dropdown(_models("colorize"), value=_models("colorize")[0], label="Model")
                        c_sat = gr.Slider(0, 2, value=_settings("colorize").saturation, step=0.05,
                                          label="Saturation (0 = gray; default: the model's calibrated value)")
                        c_spread = gr.Slider(0, 2, value=_settings("colorize").chroma_spread, step=0.05,
                                             label="Color spread without hints or reference (1 = as decoded; above: "
                                                   "the colors move apart, less of one overall tint)")
                        c_size = gr.Number(_settings("colorize").render_size, minimum=16, precision=0,
                                           label="Render size: short side the network sees, in pixels")
                        c_ref = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                         label="Reference photo (optional): a color photo whose palette the "
                                               "colors should follow", elem_id="colorize-reference", height=120)
                        c_run = gr.Button("Colorize", variant="primary", elem_id="colorize-run")
                    c_res = results("colorize")

                @_errors
                def c_go(files, model, saturation, spread, render_size, reference, progress=gr.Progress()):
                    return several("colorize", files, model, progress, saturation=saturation, chroma_spread=spread,
                                   render_size=None if render_size is None else int(render_size),
                                   reference=upload(reference, "the reference photo") if reference else None)

                c_run.click(c_go, [c_in, c_model, c_sat, c_spread, c_size, c_ref], c_res, concurrency_limit=1,
                            concurrency_id="colorize")

            # -- colorize with hints: the photo, colors painted over it (the hint image), run, before/after
            with gr.Tab("Colorize with hints", id="colorize-hints"):
                h_src = gr.State(None)
                with gr.Row():
                    with gr.Column():
                        h_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                        label="Gray, faded or sepia photo", elem_id="hints-input", height=160)
                        h_edit = gr.ImageEditor(type="numpy", label="Paint dots or short strokes in the colors "
                                                "wanted (pick a color in the brush menu; only the hue and "
                                                "saturation count)", sources=(), layers=False, transforms=(),
                                                elem_id="hints-editor", format="png", canvas_size=(512, 512),
                                                brush=gr.Brush(default_size=4, colors=HINT_COLORS,
                                                               color_mode="defaults"))
                        with gr.Row():
                            h_model = gr.Dropdown(_hint_models(), value=(_hint_models() or [None])[0],
                                                  label="Model")
                            h_sat = gr.Slider(0, 2, value=_settings("colorize").saturation, step=0.05,
                                              label="Saturation (0 = gray)")
                        h_run = gr.Button("Colorize with these hints", variant="primary", elem_id="hints-run")
                    with gr.Column():
                        h_cmp = gr.ImageSlider(label="Before / after", type="filepath", format="png")
                        h_file = gr.File(label="Download (result, hint image used)", file_count="multiple",
                                         elem_id="hints-download", interactive=False)

                h_in.change(lambda path: (path, {"background": path, "layers": [], "composite": None}
                                          if path else None), [h_in], [h_src, h_edit], queue=False)

                @_errors
                def h_go(src, edited, model, saturation):
                    if not src:
                        raise JobError("upload a photo first")
                    hint = hint_from_layers((edited or {}).get("layers") or [])
                    if hint is None or not hint[..., 3].any():
                        gr.Warning("no color hint painted: the photo is colored automatically")
                    path, out, hint_file = run_hints(models, ws, src, hint, model, max_pixels=max_pixels,
                                                     saturation=saturation)
                    return (str(path), str(out)), [str(out), str(hint_file)]

                h_run.click(h_go, [h_src, h_edit, h_model, h_sat], [h_cmp, h_file], concurrency_limit=1,
                            concurrency_id="colorize")

            # -- inpaint: the photo, a mask painted over it, run, result + raw G(z), continue
            with gr.Tab("Inpaint", id="inpaint"):
                i_src = gr.State(None)
                with gr.Row():
                    with gr.Column():
                        i_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], label="Photo", elem_id="inpaint-input",
                                        height=160)
                        i_edit = gr.ImageEditor(type="numpy", label="Paint over what to fill (brush; eraser, undo)",
                                                sources=(), layers=False, transforms=(), elem_id="inpaint-editor",
                                                brush=gr.Brush(default_size=12, colors=["#ff0000"],
                                                               color_mode="fixed"),
                                                format="png", canvas_size=(512, 512))
                        with gr.Row():
                            i_model = gr.Dropdown(_models("inpaint"), value=_models("inpaint")[0], label="Model")
                            i_method = gr.Dropdown(["gan", "telea", "ns", "biharmonic"], value="gan", label="Method")
                            i_seed = gr.Number(0, label="Seed", precision=0)
                        i_run = gr.Button("Fill", variant="primary", elem_id="inpaint-run")
                    with gr.Column():
                        i_out = gr.Image(label="Result", type="filepath", format="png", interactive=False,
                                         buttons=["download", "fullscreen"], height=280)
                        i_raw = gr.Image(label="Raw G(z) before blending", type="filepath", format="png",
                                         interactive=False)
                        i_file = gr.File(label="Download (result, raw, mask used)", file_count="multiple",
                                         elem_id="inpaint-download", interactive=False)
                        i_again = gr.Button("Paint more on the result", elem_id="inpaint-again")

                def i_load(path):
                    return path, ({"background": path, "layers": [], "composite": None} if path else None)

                i_in.change(i_load, [i_in], [i_src, i_edit], queue=False)

                @_errors
                def i_fill(src, edited, model, method, seed):
                    image = upload(src)
                    layers = (edited or {}).get("layers") or []
                    mask = mask_from_layers(layers, image.shape[:2])
                    if not mask.any():
                        raise JobError("paint the part to fill on the image first")
                    out, raw = models.run("inpaint", model, image, mask, method=method, seed=int(seed or 0),
                                          return_raw=True)
                    folder = ws.folder()
                    stem = _name(src)
                    paths = [ws.write(folder, f"{stem}_inpaint.png", out), ws.write(folder, f"{stem}_raw.png", raw),
                             ws.write(folder, f"{stem}_mask.png", mask)]
                    return str(paths[0]), str(paths[1]), [str(p) for p in paths]

                i_run.click(i_fill, [i_src, i_edit, i_model, i_method, i_seed], [i_out, i_raw, i_file],
                            concurrency_limit=1, concurrency_id="inpaint")
                i_again.click(lambda out: i_load(out) if out else (gr.skip(), gr.skip()), [i_out], [i_src, i_edit],
                              queue=False)

            # -- unwatermark: run, the predicted mask over the image, correct it by hand, fill again
            with gr.Tab("Unwatermark", id="unwatermark"):
                w_src = gr.State(None)
                w_pred = gr.State(None)   # the predicted mask put into the editor (H x W x 1 uint8)
                with gr.Row():
                    with gr.Column():
                        w_in = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], label="Watermarked photo",
                                        elem_id="unwatermark-input")
                        with gr.Row():
                            w_model = gr.Dropdown(_models("unwatermark"), value=_models("unwatermark")[0],
                                                  label="Model")
                            w_refine = gr.Dropdown(["telea", "inpaint", "none"], value="telea",
                                                   label="Fill of opaque marks")
                            w_tta = gr.Checkbox(True, label="Mirrored second pass (fewer false detections)")
                        w_run = gr.Button("Remove watermark", variant="primary", elem_id="unwatermark-run")
                        w_edit = gr.ImageEditor(type="numpy", label="Predicted mask (red): paint to add, erase to "
                                                "remove (untick the box below), then fill again", sources=(), transforms=(),
                                                layers=gr.LayerOptions(allow_additional_layers=False),
                                                brush=gr.Brush(default_size=12, colors=["#ff0000"],
                                                               color_mode="fixed"),
                                                format="png", elem_id="unwatermark-editor", canvas_size=(512, 512))
                        w_keep = gr.Checkbox(True, elem_id="unwatermark-keep",
                                             label="Keep the whole predicted mask (painting only adds to it; "
                                                   "untick to remove parts of it with the eraser)")
                        w_again = gr.Button("Fill again with this mask", elem_id="unwatermark-again")
                    with gr.Column():
                        w_cmp = gr.ImageSlider(label="Before / after", type="filepath", format="png")
                        w_mask = gr.Image(label="Mask found", type="numpy", format="png", interactive=False,
                                             buttons=["download", "fullscreen"])
                        w_file = gr.File(label="Download (result, mask)", file_count="multiple",
                                         elem_id="unwatermark-download", interactive=False)

                @_errors
                def w_first(src, model, refine, tta):
                    image = upload(src)
                    out, mask = models.run("unwatermark", model, image, return_mask=True, refine=refine, tta=tta)
                    folder = ws.folder()
                    paths = [ws.write(folder, f"{_name(src)}_unwatermark.png", out),
                             ws.write(folder, f"{_name(src)}_mask.png", mask)]
                    editor = {"background": src, "layers": [_mask_layer(mask)], "composite": None}
                    return src, (src, str(paths[0])), _overlay(image, mask), [str(p) for p in paths], editor, mask

                w_run.click(w_first, [w_in, w_model, w_refine, w_tta], [w_src, w_cmp, w_mask, w_file, w_edit, w_pred],
                            concurrency_limit=1, concurrency_id="unwatermark")

                @_errors
                def w_refill(src, edited, predicted, keep, model, refine, tta):
                    image = upload(src)
                    # the editor may clear predicted pixels next to a new stroke (see mask_from_layers)
                    mask = mask_from_layers((edited or {}).get("layers") or [], image.shape[:2],
                                            keep=predicted if keep else None)
                    out = models.run("unwatermark", model, image, mask, refine=refine, tta=tta)
                    folder = ws.folder()
                    paths = [ws.write(folder, f"{_name(src)}_unwatermark.png", out),
                             ws.write(folder, f"{_name(src)}_mask.png", mask)]
                    return (src, str(paths[0])), _overlay(image, mask[..., 0]), [str(p) for p in paths]

                w_again.click(w_refill, [w_src, w_edit, w_pred, w_keep, w_model, w_refine, w_tta], [w_cmp, w_mask, w_file],
                              concurrency_limit=1, concurrency_id="unwatermark")

            with gr.Tab("Models", id="models"):
                from restore.zoo.manifest import models_table
                gr.Markdown("The model zoo, as `restore models` prints it. Figures: PSNR / SSIM and seconds per "
                            "megapixel, measured with `restore bench` (see each model's card).")
                gr.Markdown(models_table(), elem_id="models-table")
    return demo


def serve(*, host: str = "127.0.0.1", port: int = 7860, device: str = "auto",
          max_pixels: int = DEFAULT_MAX_PIXELS, max_file_size: int | str = "50mb", quiet: bool = False,
          workspace: Workspace | None = None) -> None:
    """Build and launch the app (blocks until interrupted); no public share link.

    Files the app serves: the uploads and the results it wrote, under its own temporary
    folders (Gradio's cache is moved into one of them), nothing else.
    """
    demo = build_app(device=device, max_pixels=max_pixels, workspace=workspace)
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=host, server_port=port, share=False, inbrowser=False, max_file_size=max_file_size,
                quiet=quiet, footer_links=[])
