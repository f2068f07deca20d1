"""Small line plots written as PNG with Pillow (a declared dependency), for recipes' reports:
no plotting library is needed. One function, :func:`line_plot_png`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

#: colours given to series in order (those of matplotlib's default cycle)
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f")


@dataclass
class Series:
    """One curve: points ``(x, y)`` joined in order, each with an optional text label written
    beside it; ``highlight`` lists indices of points drawn larger (a reference point)."""

    name: str
    points: Sequence[tuple[float, float]]
    labels: Sequence[str] = ()
    colour: str | None = None
    dashed: bool = False
    highlight: Sequence[int] = field(default_factory=tuple)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)   # Pillow >= 10.1, with FreeType
    except (TypeError, OSError):
        return ImageFont.load_default()


def _ticks(low: float, high: float, target: int = 6) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    span = high - low
    raw = span / max(1, target)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + k * step, 10) for k in range(int((high - first) / step + 1e-9) + 1)]


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def line_plot_png(series: Sequence[Series], path: str | Path, *, title: str, x_label: str, y_label: str,
                  size: tuple[int, int] = (900, 650), zoom: Sequence[str] = ()) -> Path:
    """Draw ``series`` on shared axes (ranges from the data, with a margin; round ticks; a
    legend in the top-left corner) and save a PNG at ``path``. ``zoom``: names of series to
    draw again in a second panel on the right, on axes fitted to them alone (for curves that
    the others squeeze into a corner). Labels of every other series go left of their points,
    so that two curves' labels at the same point do not overlap."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not any(s.points for s in series):
        raise ValueError("line_plot_png needs at least one point")
    colours = {id(s): s.colour or COLOURS[k % len(COLOURS)] for k, s in enumerate(series)}
    sides = {id(s): 1 if k % 2 == 0 else -1 for k, s in enumerate(series)}
    panels = [(list(series), "")]
    zoomed = [s for s in series if s.name in set(zoom)]
    if zoomed:
        panels.append((zoomed, "zoomed on " + ", ".join(s.name for s in zoomed)))
    width, height = size
    image = Image.new("RGB", (width * len(panels), height), "white")
    draw = ImageDraw.Draw(image)
    font, small, big = _font(15), _font(12), _font(18)
    w, _ = _text_size(draw, title, big)
    draw.text(((image.width - w) / 2, 10), title, fill="black", font=big)
    for k, (members, subtitle) in enumerate(panels):
        _panel(image, draw, (k * width, 0, width, height), members, colours, sides, subtitle, x_label, y_label,
               legend=k == 0, fonts=(font, small))
    image.save(path)
    return path


def _panel(image: Image.Image, draw: ImageDraw.ImageDraw, frame: tuple[int, int, int, int],
           series: Sequence[Series], colours: dict, sides: dict, subtitle: str, x_label: str, y_label: str,
           legend: bool, fonts: tuple) -> None:
    """One set of axes in the ``frame`` (x offset, y offset, width, height) of the image."""
    font, small = fonts
    fx, fy, width, height = frame
    left, right, top, bottom = 85, 30, 60, 70
    box = (fx + left, fy + top, fx + width - right, fy + height - bottom)
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]

    def padded(values: list[float]) -> tuple[float, float]:
        low, high = min(values), max(values)
        pad = (high - low) * 0.08 or max(abs(low) * 0.05, 0.5)
        return low - pad, high + pad

    (x0, x1), (y0, y1) = padded(xs), padded(ys)

    def to_pixel(x: float, y: float) -> tuple[float, float]:
        return (box[0] + (x - x0) / (x1 - x0) * (box[2] - box[0]),
                box[3] - (y - y0) / (y1 - y0) * (box[3] - box[1]))

    if subtitle:
        w, _ = _text_size(draw, subtitle, font)
        draw.text(((box[0] + box[2] - w) / 2, box[1] - 24), subtitle, fill="#444444", font=font)
    for value in _ticks(x0, x1):
        px, _ = to_pixel(value, y0)
        draw.line([(px, box[1]), (px, box[3])], fill="#e6e6e6")
        text = f"{value:g}"
        w, _ = _text_size(draw, text, small)
        draw.text((px - w / 2, box[3] + 6), text, fill="black", font=small)
    for value in _ticks(y0, y1):
        _, py = to_pixel(x0, value)
        draw.line([(box[0], py), (box[2], py)], fill="#e6e6e6")
        text = f"{value:g}"
        w, h = _text_size(draw, text, small)
        draw.text((box[0] - w - 6, py - h / 2 - 2), text, fill="black", font=small)
    draw.rectangle(box, outline="black")
    w, _ = _text_size(draw, x_label, font)
    draw.text(((box[0] + box[2] - w) / 2, fy + height - 32), x_label, fill="black", font=font)
    w, h = _text_size(draw, y_label, font)
    label = Image.new("RGBA", (w + 4, h + 8), (255, 255, 255, 0))
    ImageDraw.Draw(label).text((2, 0), y_label, fill="black", font=font)
    rotated = label.rotate(90, expand=True)
    image.paste(rotated, (fx + 12, int((box[1] + box[3] - rotated.height) / 2)), rotated)

    legend_y = box[1] + 10
    for s in series:
        colour, side = colours[id(s)], sides[id(s)]
        pixels = [to_pixel(x, y) for x, y in s.points]
        if len(pixels) > 1:
            if s.dashed:
                for a, b in zip(pixels, pixels[1:]):
                    _dashed_line(draw, a, b, colour)
            else:
                draw.line(pixels, fill=colour, width=2)
        for i, (px, py) in enumerate(pixels):
            r = 7 if i in s.highlight else 4
            draw.ellipse([px - r, py - r, px + r, py + r], fill=colour, outline="black" if r > 4 else colour)
            if i < len(s.labels) and s.labels[i]:
                w, _ = _text_size(draw, s.labels[i], small)
                draw.text((px + 7 if side > 0 else px - 7 - w, py - 16), s.labels[i], fill=colour, font=small)
        if legend:
            if s.dashed:
                _dashed_line(draw, (box[0] + 12, legend_y + 8), (box[0] + 44, legend_y + 8), colour, dash=5.0)
            else:
                draw.line([(box[0] + 12, legend_y + 8), (box[0] + 42, legend_y + 8)], fill=colour, width=2)
            draw.ellipse([box[0] + 23, legend_y + 4, box[0] + 31, legend_y + 12], fill=colour)
            draw.text((box[0] + 50, legend_y), s.name, fill="black", font=font)
            legend_y += 22


def _dashed_line(draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], colour: str,
                 dash: float = 8.0) -> None:
    length = math.dist(a, b)
    pieces = max(1, int(length // dash))
    for k in range(0, pieces, 2):
        t0, t1 = k / pieces, min(1.0, (k + 1) / pieces)
        draw.line([(a[0] + (b[0] - a[0]) * t0, a[1] + (b[1] - a[1]) * t0),
                   (a[0] + (b[0] - a[0]) * t1, a[1] + (b[1] - a[1]) * t1)], fill=colour, width=2)
