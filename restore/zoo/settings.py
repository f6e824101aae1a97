"""Per-model inference settings: one frozen dataclass per task, carried by ``ModelSpec.settings``.

A pipeline reads its defaults from its model's spec (``self.spec.settings``), so a model
trained or tuned differently brings its own values, and no pipeline keeps a constant tuned
for one model. The values of the shipped models are given, with how they were chosen, at
their registration in :mod:`restore.zoo.models`. To try other values, replace them in a
spec and load the pipeline from it::

    spec = get_spec("unwatermark-s")
    spec = dataclasses.replace(spec, settings=dataclasses.replace(spec.settings, min_confidence=0.99))
    pipe = load_pipeline("unwatermark", spec)

Every field is required: a registration states all of its model's settings.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DenoiseSettings:
    """Settings of a denoising model (:class:`restore.pipelines.denoise.DenoisePipeline`).

    Attributes:
        sigma_range: ``(low, high)`` noise levels on the 0-255 scale the model was trained
            on; a ``sigma`` outside is refused, and ``sigma="auto"`` estimates are clipped to it.
        blind: the model takes no noise level (it was trained on mixed real-photo
            degradations with a zero noise map): ``sigma`` must be ``"auto"``, and nothing is
            estimated.
    """

    sigma_range: tuple[float, float]
    blind: bool


@dataclasses.dataclass(frozen=True)
class ColorizeSettings:
    """Decoding settings of a colorization model (:class:`restore.pipelines.colorize.ColorizePipeline`).

    Attributes:
        render_size: short side, in pixels, of the image the network sees by default; the
            predicted chroma is upsampled to the full image.
        prior: share of the training's class rebalancing to undo when decoding, in [0, 1]
            (0: none, as Zhang et al. 2016; 1: the plain posterior).
        temperature: annealed-mean temperature in (0, 1] (1: the mean, safe and
            desaturated; towards 0: the mode, vivid).
        saturation: factor on the decoded chroma, >= 0.
        hint_method: for a model with hint inputs, how the pipeline spreads each hint's
            correction over the photo (on the network's output grid, half the render
            size): ``"geodesic"`` (chrominance blending by geodesic distance,
            :func:`restore.ops.hints.propagate_hints`, with ``hint_spread`` and
            ``hint_edge``), ``"optimize"`` (the edge-aware optimization of Levin et al.
            2004, :func:`restore.ops.hints.optimize_hints`, with ``hint_sigma`` and
            ``hint_decay``) or ``"none"`` (the network alone).
        hint_spread: for ``"geodesic"``, the distance (pixels of the network's output grid)
            over which a hint's correction falls to 1/e; 0 turns the propagation off.
        hint_edge: for ``"geodesic"``, extra distance per L* unit of lightness step (hints
            stop at edges).
        hint_sigma: for ``"optimize"``, the L* step at which the affinity between
            neighbours falls to ``exp(-1/2)`` (smaller: hints stop at weaker edges).
        hint_decay: for ``"optimize"``, the pull of the correction back to 0 (larger: it
            fades closer to the hints).
        hint_prior: ``prior`` when hints are given; None: ``prior``. With hints the
            colors are checked against the user's, so the least-squares posterior (1)
            can score better than the vivid decoding the automatic mode wants.
        hint_temperature: ``temperature`` when hints are given; None: ``temperature``.
        reference_strength: exponent of a reference photo's palette as the prior of the
            network's per-pixel color distribution, the training set's divided out
            (:func:`restore.ops.palette.reference_logits`; 1: Bayes' rule with the
            reference's color frequencies); 0 ignores the palette.
        reference_match: amount (0-1) of the move of the decoded chroma to the reference's
            a*b* mean and std (:func:`restore.ops.palette.match_chroma`).
        chroma_spread: automatic mode only (no hints, no reference): factor, >= 0, on each
            pixel's decoded chroma minus the photo's mean chroma
            (:func:`restore.ops.color.spread_chroma`); 1 leaves the decoding as it is, above
            1 the photo's colors move apart (less of one overall tint).
        tta: average the network's log-probabilities over the photo and its left-right
            mirror (flip self-ensemble; twice the network's time).
    """

    render_size: int
    prior: float
    temperature: float
    saturation: float
    hint_method: str = "geodesic"
    hint_spread: float = 0.0
    hint_edge: float = 0.5
    hint_sigma: float = 3.0
    hint_decay: float = 1e-5
    hint_prior: float | None = None
    hint_temperature: float | None = None
    reference_strength: float = 1.0
    reference_match: float = 0.5
    chroma_spread: float = 1.0
    tta: bool = False


@dataclasses.dataclass(frozen=True)
class UnwatermarkSettings:
    """Settings of a watermark-removal model (:class:`restore.pipelines.unwatermark.UnwatermarkPipeline`).

    Attributes:
        mask_ramp: ``(low, high)`` of the soft composition mask
            (:func:`restore.zoo.archs.unet.watermark_mask`): 0 below ``low``, 1 above ``high``.
        min_confidence: a connected part of the mask is kept only if one of its pixels is
            more probable than this (hysteresis thresholding), in ``[mask_ramp[0], 1]``.
        opaque_alpha: predicted opacity in (0, 1] above which the mark is taken as opaque
            and its region refined.
        refine: default refinement of the opaque part: ``"telea"``, ``"inpaint"`` or ``"none"``.
        tta_margin: pixels of context, on every side, of the boxes in which the mirrored
            pass of the test-time augmentation runs.
        tta_max_area: a box larger than this share of the image gets no mirrored pass.
        jpeg_partner: the zoo name of a model of the same architecture fine-tuned on marks
            saved as JPEG, whose weights run instead of this model's on an input that was
            saved as JPEG (:func:`restore.ops.jpeg_history.has_jpeg_history`, or the
            pipeline's ``jpeg`` option); None: this model's weights run on every input.
    """

    mask_ramp: tuple[float, float]
    min_confidence: float
    opaque_alpha: float
    refine: str
    tta_margin: int
    tta_max_area: float
    jpeg_partner: str | None = None


@dataclasses.dataclass(frozen=True)
class InpaintSettings:
    """Latent-search settings of an inpainting GAN (:class:`restore.pipelines.inpaint.InpaintPipeline`).

    The first five fields are :func:`restore.pipelines.inpaint.latent_search`'s keyword
    arguments, so ``latent_search(net, y, mask, **settings.search_kwargs())`` runs the
    model's default search. The others steer a windowed model's coarse-to-fine fill of
    large holes (:mod:`restore.pipelines.inpaint_pyramid`).

    Attributes:
        steps: Adam steps on the latent.
        restarts: latents searched per image (or window), as one batch; the lowest loss wins.
        lambda_prior: weight of the discriminator prior in the search loss.
        lr: Adam's learning rate on the latent.
        restart_noise: standard deviation, per latent coordinate, of the perturbations of
            the encoder's latent that make restarts 2.. of an encoder-started search.
        coarse_depth: a connected part of the hole whose depth (the largest distance, in
            pixels, from one of its pixels to the nearest known pixel) is more than this
            is filled coarse to fine; thinner parts window by window at full resolution.
        coarse_context: known context, in pixels of the window, left on each side of a
            large hole's bounding box at the coarsest level (the hole's box fits in
            ``window - 2 * coarse_context`` there).
        max_levels: most pyramid levels above full resolution (factor 2 each): a bound on
            the time of huge holes, whose coarsest level then has several windows.
        rounds: rounds of windows per level, from the hole's boundary inward (each round
            takes the windows with the most known or already filled pixels).
        filled_weight: weight of pixels filled in an earlier round, relative to known ones,
            in the contextual loss of later rounds.
        guide_weight: weight of the L1 pull of G(z) toward the upsampled fill of the level
            below, inside the hole.
        coarse_steps: Adam steps of the search at the levels above full resolution (few
            windows there; ``steps`` at full resolution).
    """

    steps: int
    restarts: int
    lambda_prior: float
    lr: float
    restart_noise: float
    coarse_depth: float
    coarse_context: int
    max_levels: int
    rounds: int
    filled_weight: float
    guide_weight: float
    coarse_steps: int

    def search_kwargs(self) -> dict:
        """The latent search's settings, as :func:`restore.pipelines.inpaint.latent_search`'s keyword arguments."""
        return dict(steps=self.steps, restarts=self.restarts, lambda_prior=self.lambda_prior, lr=self.lr,
                    restart_noise=self.restart_noise)


@dataclasses.dataclass(frozen=True)
class UpscaleSettings:
    """Settings of a super-resolution model (:class:`restore.pipelines.upscale.UpscalePipeline`).

    Attributes:
        psnr_partner: the zoo name of the PSNR-trained model this one was fine-tuned from
            (adversarially), with the same architecture and arch kwargs; it makes
            ``strength`` available: the weights ``(1 - s) * partner + s * self`` (ESRGAN's
            network interpolation, Wang et al. 2018). None: no partner, ``strength`` can
            only be ``default_strength``.
        default_strength: the strength a call without one runs at, in [0, 1]: 1 for an
            adversarial model (its own weights), 0 for a PSNR model.
        inputs: the low-resolution inputs the model was trained for (:data:`SR_INPUTS`):
            ``"bicubic"``, clean MATLAB-style bicubic downsamplings (the Set5/Set14
            protocol), or ``"real"``, photos as people have them (blur, resizing, sensor
            noise, JPEG; the realistic degradation model, :mod:`restore.ops.degrade`).
    """

    psnr_partner: str | None
    default_strength: float
    inputs: str = "bicubic"

    def __post_init__(self) -> None:
        if self.inputs not in SR_INPUTS:
            raise ValueError(f"inputs must be one of {SR_INPUTS}, got {self.inputs!r}")


#: The kinds of low-resolution input a super-resolution model is made for
#: (:attr:`UpscaleSettings.inputs`), with the words ``restore models`` uses.
SR_INPUTS = {"bicubic": "clean bicubic-downsampled inputs", "real": "real photos (JPEG, noise, blur)"}
