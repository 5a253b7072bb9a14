"""Charts drawn on the server as SVG (no JavaScript): a grouped bar chart with a title and text alternative."""

from __future__ import annotations

from html import escape

COLOURS = ("#1d70b8", "#00703c", "#f47738", "#4c2c92", "#d4351c", "#505a5f")


def bar_chart_svg(title: str, categories: list[str], series: dict[str, list[float]], width: int = 640,
                  height: int = 320, ident: str = "chart") -> str:
    """Bars per category for each series, with axis labels and a legend; the numbers are in <desc> too. ``ident``
    prefixes the ids the SVG names itself by: give each chart on a page its own."""
    left, bottom, top, right = 48, 40, 36, 16
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for values in series.values() for v in values] + [1])
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    desc = "; ".join(f"{name}: " + ", ".join(f"{c} {v:g}" for c, v in zip(categories, values, strict=True))
                     for name, values in series.items())
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{escape(ident)}-title {escape(ident)}-desc" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<title id="{escape(ident)}-title">{escape(title)}</title>',
        f'<desc id="{escape(ident)}-desc">{escape(desc)}</desc>',
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#0b0c0c"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak:g}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, category in enumerate(categories):
        x0 = left + i * group_w + group_w * 0.1
        for j, (name, values) in enumerate(series.items()):
            value = values[i]
            bar_h = plot_h * value / peak
            x, y = x0 + j * bar_w, top + plot_h - bar_h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{bar_h:.1f}" '
                         f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(name)}, {escape(category)}: '
                         f'{value:g}</title></rect>')
        parts.append(f'<text x="{left + i * group_w + group_w / 2:.1f}" y="{top + plot_h + 16}" '
                     f'text-anchor="middle">{escape(category)}</text>')
    for j, name in enumerate(series):
        y = height - 8
        x = left + j * 150
        parts.append(f'<rect x="{x}" y="{y - 10}" width="10" height="10" fill="{COLOURS[j % len(COLOURS)]}"/>'
                     f'<text x="{x + 14}" y="{y}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
