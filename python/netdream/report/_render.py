"""Drawing the report: the HTML page from a ReportData (no computing here)."""

from __future__ import annotations

import base64
import html
import io
import json
import numbers

import numpy as np
from PIL import Image

from ..images import _DIVERGING, _colourise, signed_colour
from ._compute import (_BIG, _GENERATIONS, _GREY_BELOW, _N_EXAMPLES, _N_FIELDS, _N_MISTAKES,
                       _N_PAIRS, _SMALL, _STEPS, _STOP_AT, ReportData)

__all__ = ["SECTIONS", "render"]

#: The page's section headings, in order.
SECTIONS = ("Model", "Accuracy", "Causal index", "Dreams", "Average dreams", "Fooling images",
            "Receptive fields", "Eigen-digits", "Mistakes")


def render(r: ReportData) -> str:
    """The whole page."""
    return _page(r)


def _png_uris(maps, cmap: str, scale: int) -> list[str]:
    """One ``data:image/png`` URI per map, each pixel a ``scale``-square block."""
    rgb = _colourise(np.asarray(maps), cmap, None, True)
    uris = []
    for cell in rgb:
        im = Image.fromarray(cell)
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        uris.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
    return uris


def _tiles(maps, cmap: str, captions, alts, *, big: bool = True, titles=None) -> str:
    """A wrapping row of images, each with an HTML caption (already escaped)."""
    scale = _BIG if big else _SMALL
    uris = _png_uris(maps, cmap, scale)
    h, w = np.shape(maps)[-2:]
    titles = titles or [None] * len(uris)
    cells = []
    for uri, cap, alt, title in zip(uris, captions, alts, titles):
        tip = f' title="{_esc(title)}"' if title else ""
        cells.append(f'<figure{tip}><img src="{uri}" width="{w * scale}" height="{h * scale}" '
                     f'alt="{_esc(alt)}"><figcaption>{cap}</figcaption></figure>')
    return f'<div class="tiles{" big" if big else ""}">' + "".join(cells) + "</div>"


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _noun(r) -> str:
    """What the classes are called: digits for the digits, else classes."""
    from ..model import DIGITS
    return "digit" if tuple(r.net.class_names) == DIGITS else "class"


def _n(r, c) -> str:
    """Class ``c``'s name, escaped."""
    return _esc(r.net.class_names[int(c)])


def _pct(p: float, percent: bool = True) -> str:
    """A probability as a percentage that never rounds up to 100%."""
    if not percent:
        return f"{p:.3g}"
    if p >= 1.0:  # a float32 softmax rounds to 1; the true value is below
        return "&gt;99.99%"
    v = np.floor(p * 1e4) / 100
    return f"{v:.2f}%" if v >= 99.0 else f"{100 * p:.1f}%"


def _legend(reverse: bool = False) -> str:
    colours = _DIVERGING[::-1] if reverse else _DIVERGING
    stops = ", ".join(f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in colours)
    return ('<div class="legend"><span>lowers</span><i style="background:linear-gradient('
            f'to right, {stops})"></i><span>raises</span></div>')


def _section(key: str, title: str, caption: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return (f'<section id="{key}"><h2>{_esc(title)}</h2><p class="cap">{caption}</p>'
            f"{note_html}{body}</section>")


# --------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------

_CSS = """
:root{--ink:#1c2230;--muted:#5d6677;--line:#e2e5eb;--bg:#f4f5f8;--card:#fff;--red:#b2182b;
--blue:#2166ac}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1260px;margin:0 auto;padding:20px 12px 40px}
header{padding:8px 2px 4px}
h1{font-size:28px;margin:0;letter-spacing:-.01em}
h1 em{font-style:normal;color:var(--red)}
.sub{color:var(--muted);margin:2px 0 16px}
.stats{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 14px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 16px;
min-width:150px}
.stat b{display:block;font-size:26px;line-height:1.2;font-variant-numeric:tabular-nums}
.stat span{color:var(--muted);font-size:13px}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:14px}
nav a{color:var(--blue);text-decoration:none}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;
padding:18px 20px 20px;margin:16px 0}
h2{font-size:20px;margin:0 0 4px}
p.cap{color:var(--muted);margin:0 0 14px;max-width:78ch}
p.note{background:#fff8e1;border-left:3px solid #e0a800;padding:6px 10px;margin:0 0 14px;
max-width:78ch;font-size:14px}
.tiles{display:flex;flex-wrap:wrap;gap:12px 6px}
figure{margin:0;text-align:center;font-size:12px;line-height:1.3;color:var(--muted)}
figure img{display:block;margin:0 auto 4px;border-radius:3px;outline:1px solid #c9ced8;
image-rendering:pixelated;image-rendering:crisp-edges}
.tiles.big figure{font-size:13px}
figcaption b{color:var(--ink);font-size:14px}
.row{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start}
.row>*{min-width:0;max-width:100%}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
table.kv th{text-align:left;color:var(--muted);font-weight:normal;padding:3px 18px 3px 0;
vertical-align:top}
table.kv td{padding:3px 0;overflow-wrap:anywhere}
table.layers{font-size:14px;margin-top:4px}
table.layers th,table.layers td{border-bottom:1px solid var(--line);padding:3px 14px 3px 0;
text-align:left}
table.conf{font-size:13px}
table.conf td,table.conf th{width:46px;height:30px;text-align:center;padding:0 4px}
table.conf td{border:1px solid #fff}
table.conf th{color:var(--muted);font-weight:600}
table.conf td.zero{color:#c0c5cf}
table.conf td.recall{color:var(--muted);width:60px}
table.conf .axis{font-weight:normal;font-size:12px;color:var(--muted)}
.legend{display:flex;align-items:center;gap:8px;font-size:12px;color:var(--muted);
margin:0 0 12px}
.legend i{display:inline-block;width:180px;height:10px;border-radius:5px}
.bars{min-width:min(320px,100%);max-width:520px;flex:1}
.bar{margin:6px 0 12px}
.bar div{height:22px;border-radius:4px;background:var(--blue)}
.bar.pca div{background:#9aa3b5}
.bar span{font-size:14px}
.pair p{margin:0 0 4px}
.pair{margin:0 0 12px}
details{margin-top:10px;font-size:13px}
pre{background:var(--bg);padding:10px;border-radius:6px;overflow:auto;max-height:320px;
white-space:pre-wrap;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:22px}
@media (max-width:560px){main{padding:12px 6px 30px}section{padding:14px 12px 16px}
h1{font-size:23px}.stat{min-width:0;flex:1 1 40%}.row{gap:16px}
table.conf td,table.conf th{width:30px;height:26px;padding:0 2px}}
"""


def _page(r) -> str:
    from .. import __version__
    net = r.net
    name = str(net.metadata.get("name") or "an unnamed network")
    percent = net.output in ("softmax", "sigmoid")
    ev = r.eval
    fool_ok = int(np.sum(r.fool.confidence >= _STOP_AT)) if percent else None
    stats = [(f"{100 * ev.accuracy:.2f}%", f"accuracy on {r.n:,} test images"),
             (f"{ev.total - ev.correct:,}", "mistakes")]
    if r.pca_accuracy is not None:
        stats.append((f"{100 * r.pca_accuracy:.2f}%", "PCA baseline (10 components)"))
    if fool_ok is not None:
        stats.append((f"{fool_ok}/{net.n_classes}", f"classes fooled at &ge; {100 * _STOP_AT:g}%"))
    stat_html = "".join(f'<div class="stat"><b>{v}</b><span>{t}</span></div>' for v, t in stats)
    keys = ["model", "accuracy", "causal", "dreams", "averages", "fooling", "fields", "eigen",
            "mistakes"]
    titles = list(SECTIONS)
    if net.is_convolutional:
        titles[2], titles[6] = "Filters", "Feature maps"
    titles[7] = "Eigen-digits" if _noun(r) == "digit" else "Eigen-images"
    nav = "".join(f'<a href="#{k}">{_esc(t)}</a>' for k, t in zip(keys, titles))
    sections = [_model_section(r), _accuracy_section(r), _causal_section(r),
                _dream_section(r, percent), _average_section(r, percent),
                _fooling_section(r, percent), _fields_section(r), _eigen_section(r),
                _mistakes_section(r)]
    if net.is_convolutional:
        kind = (f"A convolutional network, {len(net.layers)} layers on "
                f"{'&times;'.join(map(str, net.input_shape))} images")
    else:
        sizes = " &rarr; ".join(f"{s:,}" for s in net.sizes)
        kind = f"A dense network, {sizes} units, {_esc('/'.join(net.activations))}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>netdream report: {_esc(name)}</title><style>{_CSS}</style></head>\n"
        f'<body><main><header><h1>What <em>{_esc(name)}</em> has learned</h1>'
        f'<p class="sub">{kind}: a report by netdream {_esc(__version__)}.</p>'
        f'<div class="stats">{stat_html}</div><nav>{nav}</nav></header>\n'
        + "\n".join(sections)
        + f"\n<footer>netdream {_esc(__version__)} &middot; seed {r.seed} &middot; "
        f"{r.dreams} dreams per class &middot; one self-contained page: every picture is "
        "embedded, nothing is loaded from elsewhere.</footer></main></body></html>\n")


def _architecture(net) -> str:
    if net.is_convolutional:
        kinds = [type(l).__name__ for l in net.layers]
        return (f"{len(net.layers)} layers: {_esc(', '.join(kinds))}; input "
                f"{'&times;'.join(map(str, net.input_shape))}")
    n_hidden = len(net.weights) - 1
    return (f"{' &rarr; '.join(map(str, net.sizes))} "
            f"({n_hidden} hidden layer{'' if n_hidden == 1 else 's'})")


def _normalised(enc) -> str:
    if enc.mean is None and enc.std is None:
        return ""
    return (f"; then per channel (x &minus; mean) / std, mean {_esc(enc.mean or 0)}, "
            f"std {_esc(enc.std or 1)}")


def _upscale(maps, k: int):
    """Small maps (filters) drawn k times larger, so that they read at tile size."""
    return np.repeat(np.repeat(np.asarray(maps), k, axis=-2), k, axis=-1)


def _model_section(r) -> str:
    net = r.net
    enc = net.encoding
    meta = net.metadata
    weighted = [l for l in net.layers if hasattr(l, "weight")]
    n_params = sum(l.weight.size + l.bias.size for l in weighted)
    ink = f"ink {enc.high:g}, background {enc.low:g}" if enc.ink == "high" else \
        f"ink {enc.low:g}, background {enc.high:g}"
    order = "row by row" if enc.order == "row" else "column by column"
    rows = [("Name", _esc(meta.get("name", "(none in the metadata)"))),
            ("Architecture", _architecture(net)),
            ("Parameters", f"{n_params:,}"),
            ("Input encoding", f"{ink}; pixels read {order}" + _normalised(enc)),
            ("Output", _esc(net.output)),
            ("Classes", _esc(", ".join(net.class_names)))]
    for key, label in (("architecture", "Description"), ("source", "Source"),
                       ("training_data", "Training data")):
        if meta.get(key):
            rows.append((label, _esc(meta[key])))
    stated = meta.get("test_accuracy")
    if isinstance(stated, dict) and isinstance(stated.get("accuracy"), numbers.Real):
        rows.append(("Stated test accuracy", f"{100 * stated['accuracy']:.2f}%"))
    kv = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    if net.is_convolutional:
        layers = "".join(
            f"<tr><td>{l}</td><td>{_esc(repr(lay))}</td><td>{'&times;'.join(map(str, shape))}"
            "</td></tr>" for l, (lay, shape) in enumerate(zip(net.layers, net.layer_shapes)))
        head = "<tr><th>layer</th><th></th><th>output</th></tr>"
    else:
        layers = "".join(
            f"<tr><td>{l}</td><td>{w.shape[1]:,} &rarr; {w.shape[0]:,}</td><td>{_esc(a)}</td></tr>"
            for l, (w, a) in enumerate(zip(net.weights, net.activations)))
        head = "<tr><th>layer</th><th>units</th><th>activation</th></tr>"
    body = (f'<div class="row"><table class="kv">{kv}</table>'
            f'<table class="layers">{head}{layers}</table></div>')
    if meta:
        body += ("<details><summary>All metadata</summary><pre>"
                 f"{_esc(json.dumps(meta, indent=1, default=str))}</pre></details>")
    caption = ("The network this page is about: its layers, how it wants an image turned into "
               "numbers, and what its file says about it.")
    return _section("model", "Model", caption, body)


def _accuracy_section(r) -> str:
    ev = r.eval
    c = ev.confusion
    k = c.shape[0]
    rows_tot = c.sum(axis=1)
    off = c.copy()
    np.fill_diagonal(off, 0)
    top_off = max(int(off.max()), 1)
    head = "".join(f"<th>{_n(r, p)}</th>" for p in range(k))
    noun = _noun(r)
    body_rows = []
    for t in range(k):
        cells = []
        for p in range(k):
            v = int(c[t, p])
            if t == p:
                share = v / rows_tot[t] if rows_tot[t] else 0.0
                a = 0.25 + 0.6 * share
                cells.append(f'<td style="background:rgba(33,102,172,{a:.2f});color:#fff;'
                             f'font-weight:600" title="{v} of {rows_tot[t]} images of {_n(r, t)} right">{v}</td>')
            elif v == 0:
                cells.append('<td class="zero">0</td>')
            else:
                a = 0.12 + 0.78 * np.sqrt(v / top_off)
                fg = "#fff" if a > 0.55 else "inherit"
                cells.append(f'<td style="background:rgba(178,24,43,{a:.2f});color:{fg}" '
                             f'title="{v} images of {_n(r, t)} taken for {_n(r, p)}">{v}</td>')
        recall = f"{100 * c[t, t] / rows_tot[t]:.1f}%" if rows_tot[t] else "&ndash;"
        body_rows.append(f"<tr><th>{_n(r, t)}</th>{''.join(cells)}<td class='recall'>{recall}</td></tr>")
    table = ('<div class="scroll"><table class="conf"><tr><th class="axis">true&darr; '
             f'said&rarr;</th>{head}<th class="axis">right</th></tr>{"".join(body_rows)}'
             '</table></div>')
    # the biggest confusions in words
    pairs = sorted(((int(off[t, p]), t, p) for t in range(k) for p in range(k) if off[t, p]),
                   key=lambda e: (-e[0], e[1], e[2]))[:_N_PAIRS]
    summary = (f"<p><b>{ev.correct:,}</b> of {ev.total:,} test images right "
               f"(<b>{100 * ev.accuracy:.2f}%</b>).</p>")
    m = r.mistakes
    examples = []
    for v, t, p in pairs:
        idx = np.flatnonzero((m.true == t) & (m.predicted == p))[:_N_EXAMPLES]
        caps = [_pct(c, m.percent) for c in m.confidence[idx]]
        alts = [f"an image of {r.net.class_names[t]} taken for {r.net.class_names[p]}" for _ in idx]
        titles = [f"test image #{i}" for i in m.indices[idx]]
        examples.append(f"<div class='pair'><p><b>{_n(r, t)} taken for {_n(r, p)}</b>: "
                        f"{v}&times;</p>"
                        + _tiles(m.images[idx], "gray", caps, alts, big=False, titles=titles)
                        + "</div>")
    if examples:
        table = (f'<div class="row">{table}<div><p class="cap">The commonest mistakes, with '
                 "the examples the network was surest about:</p>" + "".join(examples)
                 + "</div></div>")
    caption = (f"Each row is the true {noun}, each column what the network said. Blue cells on "
               "the diagonal are right answers; the redder an off-diagonal cell, the more often "
               "that mistake happens.")
    return _section("accuracy", "Accuracy", caption, summary + table)


def _causal_section(r) -> str:
    if r.causal is None:  # a convolutional network: its first layer's filters instead
        f = r.features
        c = len(f.filters)
        colour = f.filters.ndim == 4
        how = ("in colour: grey is a zero weight, a colour the colour there that raises the "
               "filter's output most" if colour else
               "red: ink there raises the filter's output, blue: lowers it")
        caption = (f"The {c} filters of the first convolution: the pattern each one responds "
                   f"to ({how}). The causal index, a product of weight matrices, is defined "
                   "for dense networks only.")
        k = max(4, -(-20 // max(f.filters.shape[-2:])))  # at least 20 image pixels a side
        drawn = (_upscale(f.colour_filters(), k), "gray") if colour else \
            (_upscale(f.filters, k), "diverging")
        tiles = _tiles(*drawn, [f"<b>{j}</b>" for j in range(c)],
                       [f"filter {j}" for j in range(c)], big=False)
        return _section("causal", "Filters", caption, ("" if colour else _legend()) + tiles)
    maps = r.causal
    k = len(maps)
    caps = [f"<b>{_n(r, c)}</b>" for c in range(k)]
    alts = [f"causal index of class {r.net.class_names[c]}" for c in range(k)]
    caption = (f"Where ink pushes the network towards each {_noun(r)} (red) or away from it (blue): "
               "the product of the weight matrices, ignoring the nonlinearities. Each map is "
               "scaled to its own strongest pixel.")
    return _section("causal", "Causal index", caption,
                    _legend() + _tiles(maps, "diverging", caps, alts))


def _dream_section(r, percent) -> str:
    k = len(r.dream_images)
    caps = [f"<b>{_n(r, c)}</b><br>{_pct(p, percent)}" for c, p in enumerate(r.dream_conf)]
    alts = [f"a dream of {r.net.class_names[c]}" for c in range(k)]
    noun = _noun(r)
    caption = (f"What the network thinks each {noun} looks like: starting from a blank image, "
               f"one pixel at a time is nudged, keeping only changes that make the {noun} more "
               f"likely ({_STEPS:,} tries, less a small cost on ink and on its edges). Under "
               "each: the network's confidence.")
    if r.dream_grey:
        grey = [_n(r, c) for c in r.dream_grey]
        listed = grey[0] if len(grey) == 1 else ", ".join(grey[:-1]) + " and " + grey[-1]
        caption += (f" From a blank image the dreams of {listed} stayed below "
                    f"{100 * _GREY_BELOW:g}%, so they start from grey: every pixel at 0.2.")
    if r.blank_read is not None:
        name, p0 = _n(r, r.blank_read[0]), _pct(r.blank_read[1])
        caption += (f" The network reads a blank image as {name} ({p0}) already, so the dreams "
                    f"of {name} ")
        if r.blank_read_grey:
            also = " as well" if r.dream_grey else " (every pixel at 0.2)"
            caption += f"would stay blank there; they start from grey{also}."
        else:
            caption += "stay (nearly) blank."
    return _section("dreams", "Dreams", caption,
                    _tiles(np.clip(r.dream_images, 0, 1), "gray", caps, alts))


def _average_section(r, percent) -> str:
    k = len(r.average_images)
    caps = [f"<b>{_n(r, c)}</b><br>{_pct(p, percent)}" for c, p in enumerate(r.average_conf)]
    alts = [f"average of {r.dreams} dreams of {r.net.class_names[c]}" for c in range(k)]
    titles = [f"median confidence of the {r.dreams} dreams: {_pct(m, percent)}"
              for m in r.dream_median]
    caption = (f"The average of {r.dreams} independent dreams of each {_noun(r)}: the strokes the "
               "dreams agree on stand out, the random specks cancel. Under each: the network's "
               "confidence in the average image itself.")
    if r.dream_grey or r.blank_read_grey:
        where = " or stayed blank" if r.blank_read_grey else ""
        caption += (" The dreams start as above: from grey where a blank start got "
                    f"nowhere{where}.")
    return _section("averages", "Average dreams", caption,
                    _tiles(np.clip(r.average_images, 0, 1), "gray", caps, alts,
                           titles=titles))


def _fooling_section(r, percent) -> str:
    f = r.fool
    k = len(f.images)
    caps = [f"<b>{_n(r, c)}</b><br>{_pct(p, percent)}" for c, p in enumerate(f.confidence)]
    alts = [f"fooling image classified as {r.net.class_names[c]}" for c in range(k)]
    noun = _noun(r)
    caption = ("Images bred from random noise, over generations, to be classified as each "
               f"{noun} with near certainty. To a person they look like nothing; the network is "
               "sure. Under each: its confidence.")
    low = int(np.sum(f.confidence < _STOP_AT))
    stopped = (f"Evolved for {f.steps} generation{'s' if f.steps != 1 else ''}")
    if percent and low == 0:
        stopped += f", when every {noun} had reached {100 * _STOP_AT:g}%."
    elif percent:
        plural = ("classes" if noun == "class" else "digits") if low != 1 else noun
        stopped += (f" (the limit); {low} {plural} stayed below "
                    f"{100 * _STOP_AT:g}%.")
    else:
        stopped += "."
    body = f"<p>{stopped}</p>" + _tiles(f.images, "gray", caps, alts)
    return _section("fooling", "Fooling images", caption, body)


def _fields_section(r) -> str:
    if r.fields is None:  # a convolutional network: where its first filters fire
        f = r.features
        c = len(f.maps)
        caption = (f"Where each of the {c} filters of the first convolution fires on the first "
                   "test image (white: most, black: not at all; each map scaled to its own "
                   "peak), beside the image itself.")
        hot = np.maximum(f.maps, 0)
        top = hot.reshape(c, -1).max(axis=1)
        maps = hot / np.where(top > 0, top, 1)[:, None, None]
        image = np.clip(f.image, 0, 1)
        body = (_tiles(image[None], "gray", ["<b>the image</b>"], ["the first test image"],
                       big=False)
                + _tiles(maps, "gray", [f"<b>{j}</b><br>peak {t:.2g}" for j, t in enumerate(top)],
                         [f"where filter {j} fires" for j in range(c)], big=False))
        return _section("fields", "Feature maps", caption, body)
    rf = r.fields
    n_hidden = len(r.net.weights) - 1
    if n_hidden == 0:
        units = np.arange(len(rf.images))
        caps = [f"<b>{j}</b><br>focus {rf.focus[j]:.2f}" for j in units]
        alts = [f"weights of class {j}" for j in units]
        note = ("This network has no hidden layer, so there are no hidden units to show: the "
                "receptive field of each output is its weight image, shown here by class (the "
                "same as its causal-index map).")
        caption = ("What each output looks at, drawn as in the TensorFlow notebook: blue pixels "
                   f"are evidence for the {_noun(r)}, red against. Focus: the share of a field's "
                   "weight inside its best 7&times;7 square (1 = one small spot, 0.06 = spread "
                   "evenly).")
        return _section("fields", "Receptive fields", caption,
                        _legend(reverse=True) + _tiles(rf.images[units], "diverging_r", caps, alts),
                        note)
    units = rf.most_focused(_N_FIELDS)
    caps = [f"<b>unit {j}</b><br>focus {rf.focus[j]:.2f}" for j in units]
    alts = [f"receptive field of hidden unit {j}" for j in units]
    width = len(rf.images)
    caption = (f"What single units of the first hidden layer look at (red: ink there excites "
               f"the unit, blue: inhibits it), the {len(units)} most focused of {width:,}. "
               "Focus: the share of a unit's weight inside its best 7&times;7 square "
               "(1 = one small spot, 0.06 = spread evenly).")
    dead = np.abs(rf.images).reshape(width, -1).sum(axis=1) == 0
    live = rf.focus[~dead]
    summary = "<p>"
    if live.size:
        summary += (f"Median focus of the {live.size:,} units"
                    f"{' with weights' if dead.any() else ''}: {np.median(live):.2f}; "
                    f"least focused: {live.min():.2f}.")
    if dead.any():
        summary += (f" {int(dead.sum()):,} unit{'s have' if dead.sum() > 1 else ' has'} no "
                    "weights at all (all zero) and so look at nothing.")
    summary += "</p>"
    return _section("fields", "Receptive fields", caption,
                    summary + _legend() + _tiles(rf.images[units], "diverging", caps, alts))


def _eigen_section(r) -> str:
    noun = _noun(r)
    title = "Eigen-digits" if noun == "digit" else "Eigen-images"
    caption = (f"The directions in which the images vary most (principal components), and a "
               "simple baseline built on them: describe an image by its first 10 coordinates "
               f"and pick the {noun} whose average is nearest.")
    if r.eigen is None:
        return _section("eigen", title, caption, "", r.eigen_why)
    e = r.eigen
    which = (f"the {r.eigen_n:,}" if r.eigen_n == r.eigen_of else
             f"the first {r.eigen_n:,} of the {r.eigen_of:,}")
    where = (f"Computed from {which} training images." if r.eigen_from_train else
             f"Computed from {which} test images (no training images were given).")
    caps = ["<b>mean</b><br>&nbsp;"] + [f"<b>{i + 1}</b><br>{100 * v:.1f}%"
                                        for i, v in enumerate(e.explained_variance_ratio)]
    alts = ["mean image"] + [f"{title[:-1].lower()} {i + 1}" for i in range(e.k)]
    mean_tile = _tiles(e.mean[None], "gray", caps[:1], alts[:1], big=False)
    if e.components.ndim == 4:  # colour: grey is zero, each component on its own scale
        comp_tiles = _tiles(signed_colour(e.components, each=True), "gray", caps[1:], alts[1:],
                            big=False)
        legend = ('<p class="note">In colour: grey is no change from the mean; a colour, the '
                  "colour the component adds (its opposite where the coordinate is "
                  "negative).</p>")
    else:
        comp_tiles = _tiles(e.components, "diverging", caps[1:], alts[1:], big=False)
        legend = _legend()
    body = (f"<p>{where} Under each component: the share of the variance it explains; "
            f"together the first {e.k} explain "
            f"{100 * e.explained_variance_ratio.sum():.1f}%.</p>" + legend
            + f'<div class="row">{mean_tile}{comp_tiles}</div>')
    if r.pca_accuracy is not None:
        mlp = r.eval.accuracy
        body += (
            '<div class="row" style="margin-top:16px"><div class="bars">'
            f'<div class="bar"><span>this network: <b>{100 * mlp:.2f}%</b></span>'
            f'<div style="width:{100 * mlp:.1f}%"></div></div>'
            f'<div class="bar pca"><span>PCA baseline, 10 components: '
            f'<b>{100 * r.pca_accuracy:.2f}%</b></span>'
            f'<div style="width:{100 * r.pca_accuracy:.1f}%"></div></div></div>'
            f'<p class="cap" style="flex:1;min-width:240px">The baseline was {r.pca_how}. '
            "The gap shows what the network learned beyond those ten directions.</p></div>")
    else:
        body += '<p class="note">Too few test images for the PCA baseline (at least 4).</p>'
    return _section("eigen", title, caption, body)


def _mistakes_section(r) -> str:
    m = r.mistakes
    n = min(len(m), _N_MISTAKES)
    caption = ("The test images the network got wrong while being most sure of itself. Under "
               f"each: the true {_noun(r)} &rarr; what the network said, and its confidence.")
    if not len(m):
        return _section("mistakes", "Mistakes", caption, "",
                        "The network classifies every test image correctly: nothing to show.")
    true, pred, conf = m.true[:n], m.predicted[:n], m.confidence[:n]
    names = r.net.class_names
    caps = [f"<b>{_n(r, t)} &rarr; {_n(r, p)}</b><br>{_pct(c, m.percent)}"
            for t, p, c in zip(true, pred, conf)]
    alts = [f"an image of {names[t]} taken for {names[p]}" for t, p in zip(true, pred)]
    titles = [f"test image #{i}: true {names[t]}, said {names[p]}"
              for i, t, p in zip(m.indices, true, pred)]
    intro = (f"<p>{m.n_wrong:,} of {m.n_total:,} wrong; the {n} most confident "
             f"mistake{'s' if n != 1 else ''}:</p>")
    return _section("mistakes", "Mistakes", caption,
                    intro + _tiles(m.images[:n], "gray", caps, alts, titles=titles))
