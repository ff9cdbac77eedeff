"""Lesson 06: looking inside a trained network.

* :func:`grad_cam` - which places in the image pushed P(class) up (Selvaraju et al., 2017),
  from the gradients at the last convolutional layer.
* :func:`occlusion_map` - model-agnostic cross-check: cover each place with a grey
  patch and see how much P(class) changes.
* :func:`overlay` - a heatmap over the face, as RGB, for plotting.
* :func:`first_layer_filters`, :func:`feature_maps` - the weights and activations themselves.

Every input goes through :func:`helpers.data.to_model_input`, the same
preprocessing as training and evaluation, and every layer runs in inference
mode (``training=False``): augmentation and dropout are switched off, so the
same image always gives the same map.
"""
from __future__ import annotations

import numpy as np

GRAY = 128            # the default occlusion patch: mid grey, "no information"
# Layers that act on each position and channel separately: they may follow the last
# conv layer and still belong to it (Conv -> BatchNorm -> ReLU is one "conv layer").
_PER_CHANNEL = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "ELU", "PReLU")
# Of those, the ones that are monotone per channel: a max-pooling may move past them.
_MONOTONE = ("BatchNormalization", "ReLU", "LeakyReLU", "ELU")


# ----------------------------------------------------------------------------- layers
def _layers(model) -> list:
    """The model's layers in order; nested Sequential blocks are opened up."""
    import keras
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Sequential):
            out += _layers(layer)
        else:
            out.append(layer)
    return out


def _is_conv(layer) -> bool:
    """A convolution, or a nested (functional) model that contains one, e.g. a pretrained base."""
    import keras
    from keras import layers
    if isinstance(layer, (layers.Conv2D, layers.SeparableConv2D, layers.DepthwiseConv2D)):
        return True
    return isinstance(layer, keras.Model) and any(_is_conv(inner) for inner in layer.layers)


def last_conv_layer(model) -> str:
    """Name of the last convolutional layer (Conv2D / SeparableConv2D / DepthwiseConv2D)."""
    convs = [layer.name for layer in _layers(model) if _is_conv(layer)]
    if not convs:
        raise ValueError(f"{model.name} has no convolutional layer: Grad-CAM needs feature maps.")
    return convs[-1]


def _split(model, layer_name: str | None):
    """(feature layers, head layers): the feature part ends at the chosen layer.

    With ``layer_name=None`` the last conv layer is chosen, together with the
    BatchNorm / activation layers right after it, so the maps are the rectified
    feature maps of the last conv block (what Grad-CAM's paper uses).

    Our pool-first blocks (Conv -> MaxPool -> BN -> ReLU) would leave only 3x3 maps
    after the ReLU. There the maps are taken at the conv's finer size (6x6): BN and
    ReLU are applied before the pooling, and the head pools them again. That is the
    same function (see :class:`_PoolLast`), so the gradients are the model's own.
    """
    stack = _layers(model)
    names = [layer.name for layer in stack]
    name = layer_name or last_conv_layer(model)
    if name not in names:
        raise ValueError(f"no layer {name!r} in {model.name}; layers: {names}")
    end = names.index(name) + 1
    if layer_name is not None:
        return stack[:end], stack[end:]
    pool = stack[end] if end < len(stack) and type(stack[end]).__name__ == "MaxPooling2D" else None
    after = end + 1 if pool is not None else end
    rest = after
    while rest < len(stack) and type(stack[rest]).__name__ in _PER_CHANNEL:
        rest += 1
    if pool is None:
        return stack[:rest], stack[rest:]
    moved = stack[after:rest]
    if not moved or any(type(layer).__name__ not in _MONOTONE for layer in moved):
        return stack[:end], stack[end:]          # the pool cannot move: the conv's own maps
    return stack[:end] + moved, [_PoolLast(pool, moved)] + stack[rest:]


class _PoolLast:
    """A max-pooling layer moved after the per-channel layers that followed it.

    Per channel, a BatchNorm with scale g is increasing when g >= 0 (so max-pool
    commutes with it, and with ReLU) and decreasing when g < 0 (then the max
    before becomes the min after). So ``ReLU(BN(maxpool(z)))`` equals
    ``pool(ReLU(BN(z)))`` with max-pooling for g >= 0 and min-pooling for g < 0.
    """

    def __init__(self, pool, moved):
        self.pool, self.name = pool, pool.name
        sign = None
        for layer in moved:
            if type(layer).__name__ == "BatchNormalization" and layer.scale:
                gamma = np.sign(np.asarray(layer.gamma))
                sign = gamma if sign is None else sign * gamma
        self.sign = None if sign is None else np.where(sign < 0, -1.0, 1.0).astype(np.float32)

    def __call__(self, x, training=False):
        if self.sign is None:
            return self.pool(x, training=training)
        return self.sign * self.pool(self.sign * x, training=training)   # min-pool where g < 0


def _run(stack, x):
    for layer in stack:
        x = layer(x, training=False)
    return x


def _input(model, image):
    """One image as a model-ready float batch ``(1, H, W, C)`` (shared preprocessing)."""
    from .data import to_model_input
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"expected one image (H, W) or (H, W, C), got shape {image.shape}")
    return to_model_input(image, model.input_shape[1:])


def _resize(heatmap, size) -> np.ndarray:
    import tensorflow as tf
    resized = tf.image.resize(np.asarray(heatmap, np.float32)[..., None], size, method="bilinear")
    return np.asarray(resized)[..., 0]


# ----------------------------------------------------------------------------- Grad-CAM
def grad_cam(model, image_uint8, layer_name: str | None = None, target: int = 1) -> np.ndarray:
    """Grad-CAM heatmap ``(H, W)`` in [0, 1] at the size of ``image_uint8``.

    ``target=1`` explains P(class 1) (the sigmoid output, "sad"); ``target=0``
    explains 1 - P, the evidence for class 0 ("happy").

    Recipe: A = feature maps of the last conv layer (or ``layer_name``); the
    weight of map k is the mean gradient of the target score over map k; the
    heatmap is ReLU(sum_k weight_k * A_k), scaled so its maximum is 1 (all zeros
    when nothing speaks for the target), and resized to the image.
    """
    import tensorflow as tf
    if target not in (0, 1):
        raise ValueError("target must be 0 or 1")
    features, head = _split(model, layer_name)
    image = np.asarray(image_uint8)
    x = _input(model, image)
    with tf.GradientTape() as tape:
        maps = _run(features, x)
        tape.watch(maps)
        p = tf.reshape(_run(head, maps), [-1])[0]
        score = p if target == 1 else 1.0 - p
    grads = tape.gradient(score, maps)
    if maps.shape.rank != 4 or grads is None:
        raise ValueError(f"layer {features[-1].name!r} gives no spatial maps; pick a conv layer")
    weights = tf.reduce_mean(grads, axis=(1, 2))                       # (1, channels)
    cam = tf.nn.relu(tf.reduce_sum(maps * weights[:, None, None, :], axis=-1))[0]
    cam = _resize(cam.numpy(), image.shape[:2])
    top = float(cam.max())
    cam = cam / top if top > 0 and np.isfinite(top) else np.zeros_like(cam)
    return np.clip(np.nan_to_num(cam), 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------- occlusion
def _starts(size: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, max(size - patch, 0) + 1, stride))
    if starts[-1] != max(size - patch, 0):
        starts.append(max(size - patch, 0))               # the last patch reaches the edge
    return starts


def occlusion_map(model, image, patch: int = 8, stride: int = 4, fill: int = GRAY,
                  target: int = 1, batch_size: int = 256) -> np.ndarray:
    """How much P(target) drops when a grey ``patch`` x ``patch`` square covers each place.

    Returns ``(H, W)`` float at the image size: for each pixel, the mean over
    the patches covering it of P(target | image) - P(target | covered image).
    Positive: this place was evidence FOR the target; negative: against it;
    zero: covering it changes nothing. All covered images are scored in batches.
    """
    from .evaluation import predict_proba
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    height, width = image.shape[:2]
    spots = [(r, c) for r in _starts(height, patch, stride) for c in _starts(width, patch, stride)]
    covered = np.repeat(image[None], len(spots), axis=0)
    for i, (r, c) in enumerate(spots):
        covered[i, r:r + patch, c:c + patch] = fill
    p = predict_proba(model, np.concatenate([image[None], covered]), batch_size=batch_size)
    if target == 0:
        p = 1.0 - p
    drop = p[0] - p[1:]
    total, count = np.zeros((height, width)), np.zeros((height, width))
    for d, (r, c) in zip(drop, spots):
        total[r:r + patch, c:c + patch] += d
        count[r:r + patch, c:c + patch] += 1
    return (total / np.maximum(count, 1)).astype(np.float32)


def map_correlation(a, b) -> float:
    """Pearson correlation of two maps of the same shape (e.g. Grad-CAM vs occlusion).

    ``nan`` when either map is flat: an all-zero Grad-CAM (no place had net positive
    evidence at that layer) agrees or disagrees with nothing, and "0" would be a
    made-up number.
    """
    a, b = np.ravel(a).astype(float), np.ravel(b).astype(float)
    if a.shape != b.shape:
        raise ValueError(f"maps of different sizes: {a.size} and {b.size} values")
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


# ----------------------------------------------------------------------------- pictures
def overlay(image, heatmap, alpha: float = 0.5, cmap: str = "inferno", signed: bool = False) -> np.ndarray:
    """The heatmap in colour over the (gray or RGB) image: RGB uint8 ``(H, W, 3)``.

    ``heatmap`` in [0, 1] (Grad-CAM), drawn with a perceptually uniform map that
    reads the same for colour-blind eyes and in gray (dark = 0, bright yellow = 1).
    With ``signed=True`` a map with negative values (occlusion) is scaled to
    [-1, 1] by its largest magnitude and drawn with a diverging map (blue = negative,
    red = positive; ``"coolwarm"`` unless ``cmap`` names another).
    """
    from matplotlib import colormaps
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    heat = np.asarray(heatmap, dtype=float)
    if heat.shape != rgb.shape[:2]:
        heat = _resize(heat, rgb.shape[:2])
    if signed:
        scale = np.abs(heat).max()
        heat = 0.5 + 0.5 * (heat / scale if scale > 0 else heat)
        cmap = "coolwarm" if cmap == "inferno" else cmap
    colour = colormaps[cmap](np.clip(np.nan_to_num(heat), 0, 1))[..., :3] * 255
    return ((1 - alpha) * rgb.astype(float) + alpha * colour).round().clip(0, 255).astype(np.uint8)


def first_layer_filters(model) -> np.ndarray:
    """The first conv layer's kernels as uint8 pictures ``(filters, kh, kw)`` (RGB: ``(..., 3)``).

    Each kernel is stretched to 0-255 on its own: mid grey = 0, so bright and
    dark show what the filter adds and subtracts.
    """
    from keras import layers
    conv = next((layer for layer in _layers(model) if isinstance(layer, layers.Conv2D)), None)
    if conv is None:
        raise ValueError(f"{model.name} has no Conv2D layer")
    kernel = np.asarray(conv.get_weights()[0])               # (kh, kw, in, out)
    kernel = np.moveaxis(kernel, -1, 0)                       # (out, kh, kw, in)
    scale = np.abs(kernel).reshape(len(kernel), -1).max(axis=1)
    scale = np.where(scale > 0, scale, 1.0)[:, None, None, None]
    pictures = (127.5 + 127.5 * kernel / scale).round().astype(np.uint8)
    return pictures[..., 0] if pictures.shape[-1] == 1 else pictures[..., :3]


def feature_maps(model, image, layer_names=None) -> dict[str, np.ndarray]:
    """Activations ``(h, w, channels)`` of the named layers (default: every conv block's ReLU)
    for one image, in inference mode."""
    from keras import layers
    stack = _layers(model)
    if layer_names is None:
        layer_names = [layer.name for layer in stack if isinstance(layer, layers.ReLU)] or \
                      [layer.name for layer in stack if _is_conv(layer)]
    missing = set(layer_names) - {layer.name for layer in stack}
    if missing:
        raise ValueError(f"no layers {sorted(missing)} in {model.name}")
    x, out = _input(model, image), {}
    for layer in stack:
        x = layer(x, training=False)
        if layer.name in layer_names:
            out[layer.name] = np.asarray(x)[0]
        if len(out) == len(layer_names):
            break
    return {name: out[name] for name in layer_names}


def map_grid(maps: np.ndarray, n: int = 16) -> list[np.ndarray]:
    """The first ``n`` channels of ``(h, w, channels)`` activations as uint8 pictures
    (each stretched to 0-255 on its own; an all-zero channel stays black)."""
    maps = np.asarray(maps)
    pictures = []
    for k in range(min(n, maps.shape[-1])):
        channel = maps[..., k].astype(float)
        low, high = channel.min(), channel.max()
        scaled = (channel - low) / (high - low) * 255 if high > low else np.zeros_like(channel)
        pictures.append(scaled.round().astype(np.uint8))
    return pictures


# ----------------------------------------------------------------------------- which faces
def pick_cases(y_true, p_class1, n: int = 2, threshold: float = 0.5,
               class_names=("happy", "sad")) -> dict[str, np.ndarray]:
    """Test faces to explain: ``n`` per case, right and wrong, for each true class.

    Keys in order ``"<class0> right", "<class1> right", "<class0> wrong", "<class1> wrong"``.
    Right faces are the most confident right ones; wrong faces the most confidently
    wrong ones (the mistakes worth looking at). Ties go to the lower index.
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(p_class1, dtype=float)
    if len(y) != len(p):
        raise ValueError("y_true and p_class1 must have the same length")
    predicted = (p >= threshold).astype(int)
    sure = np.abs(p - threshold)
    order = np.lexsort((np.arange(len(y)), -sure))        # most confident first
    cases = {}
    for outcome, right in (("right", True), ("wrong", False)):
        for label, name in enumerate(class_names):
            keep = (y[order] == label) & ((predicted[order] == y[order]) == right)
            cases[f"{name} {outcome}"] = order[keep][:n]
    return cases


__all__ = ["pick_cases", "grad_cam", "occlusion_map", "overlay", "first_layer_filters", "feature_maps",
           "map_grid", "last_conv_layer", "GRAY"]
