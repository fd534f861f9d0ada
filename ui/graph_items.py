"""The QGraphicsItems the graph view draws: one per layout box, one per edge, and a frame
around the members of an expanded group.

Items paint themselves from the ``gradviz.layout`` data they were made with and a few
state attributes the view and the backward animation set (selected, animation state, badge,
edge progress). A box the diagnostics point at also carries a ``ProblemBadgeItem``: a child
item of its own, so that it has its own tooltip and click, and never mixes with the
animation's gradient badge (top-right corner; the problem badge sits on the bottom-left one).
Setters repaint only the item's own area, so an animation frame that changes three nodes
repaints three small rectangles, not the scene.

Level of detail. Below a few pixels per text line labels are not drawn at all, and the view
switches to its *overview* (``set_far``): one ``GraphOverviewItem`` draws every box and edge
in a handful of batched calls (one ``drawRects`` per box style, one path for all edges, one
for all arrowheads), while the boxes and edges in their plain state set
``ItemHasNoContents`` so Qt does not even call their Python ``paint``. A 2,000-box graph seen
whole is then a few milliseconds of C++ painting instead of 4,500 Python calls. Items with
something to show (the animation's states and badges, a pulse, the selection) keep painting
themselves on top, so the backward animation plays on a graph seen whole. Near, every item
paints itself, with pens and brushes made once rather than at every paint.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QIcon,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from gradviz.layout import FONT_SIZE, LayoutBox, LayoutEdge

from . import theme

NORMAL, CURRENT, DONE, FLASH = "normal", "current", "done", "flash"
STATES = (NORMAL, CURRENT, DONE, FLASH)

# Animation colours sit on top of torchviz's light box fills, so they read the same in light
# and dark themes: amber for "now", green tint for "executed", yellow for a leaf's flash.
GLOW = QColor(255, 160, 0)
DONE_TINT = QColor(120, 200, 120)
FLASH_FILL = QColor(255, 224, 80)
BADGE_FILL = QColor(38, 50, 56)
BADGE_TEXT = QColor(255, 255, 255)
PULSE = QColor(255, 140, 0)
_GLOW_HALO = QPen(QColor(GLOW.red(), GLOW.green(), GLOW.blue(), 110), 8.0)
_GLOW_BORDER = QPen(GLOW.darker(130), 2.0)
_FLASH_BRUSH = QBrush(FLASH_FILL)
_PULSE_PEN = QPen(PULSE, 2.2)
_PULSE_DASHED = QPen(PULSE, 2.2, Qt.PenStyle.DashLine)
_NO_CONTENTS = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents

ERROR, WARNING = "error", "warning"  # how bad a diagnostic is (``problems_panel.severity``)
PROBLEM_PX = 18  # height of a problem badge on screen, whatever the zoom

MIN_TEXT_PX = 5.0  # a label line smaller than this on screen is not drawn
FAR_LOD = 0.08  # below this scale boxes are specks and edges hairlines
SQUARE_LOD = 0.25  # below this scale rounded corners are invisible: plain rectangles
GLOW_MARGIN = 6.0  # room around a box for the glow and the selection ring
PULSE_RADIUS = 4.5


def label_font(pixel_size: float = FONT_SIZE) -> QFont:
    """The monospace font boxes are labelled in; sized in scene units (points) to match the
    box sizes ``dot`` computed for a 10 pt monospace font."""
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPixelSize(max(1, round(pixel_size)))
    return font


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` mixed with ``t`` of ``b``."""
    return QColor(round(a.red() + (b.red() - a.red()) * t),
                  round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def done_fill(fill: QColor) -> QColor:
    """A box's fill once the backward pass has executed its node."""
    return blend(fill, DONE_TINT, 0.55)


class Look(NamedTuple):
    """How the boxes of one ``BoxStyle`` are painted (shared: never modify one)."""

    pen: QPen  # the outline
    brush: QBrush  # the fill
    done_brush: QBrush  # the fill once the node has executed
    speck: QColor  # the whole box, when it is a few pixels
    text: QColor


_LOOKS: dict = {}
_SELECTION_PENS: dict[int, QPen] = {}
_EDGE_PENS: dict[tuple, QPen] = {}


def look(style) -> Look:
    """The ``Look`` of a ``gradviz.layout.BoxStyle`` (made once per style)."""
    found = _LOOKS.get(style)
    if found is None:
        fill = QColor(style.fill)
        pen = QPen(QColor(style.border), style.pen)
        if style.dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        # darker: visible on a light background, and the kind still shows
        found = _LOOKS[style] = Look(pen, QBrush(fill), QBrush(done_fill(fill)),
                                     fill.darker(135), QColor(style.text))
    return found


def _selection_pen(color: QColor) -> QPen:
    pen = _SELECTION_PENS.get(color.rgba())
    if pen is None:
        pen = _SELECTION_PENS[color.rgba()] = QPen(QColor(color), 2.5)
    return pen


FAR_RING_PX = 2.0  # the selection ring's width on screen when the graph is zoomed far out


def _far_selection_pen(color: QColor) -> QPen:
    """The ring zoomed far out: its 2.5 scene units would be a fraction of a pixel, so it is
    drawn cosmetic (a width in screen pixels), or nobody could see what is selected."""
    key = -color.rgba() - 1
    pen = _SELECTION_PENS.get(key)
    if pen is None:
        pen = _SELECTION_PENS[key] = QPen(QColor(color), FAR_RING_PX)
        pen.setCosmetic(True)
    return pen


class NodeItem(QGraphicsItem):
    """One layout box: a graph node, a collapsed group or a saved tensor.

    Attributes the view reads: ``box`` (the ``LayoutBox``), ``state`` (one of ``STATES``),
    ``badge`` (text or None), ``selected``.
    """

    def __init__(self, box: LayoutBox, font: QFont, badge_font: QFont, highlight: QColor):
        super().__init__()
        self.box = box
        self.state = NORMAL
        self.badge: str | None = None
        self.selected = False
        self._font = font
        self._badge_font = badge_font
        self._rect = QRectF(-box.width / 2, -box.height / 2, box.width, box.height)
        self._badge_rect = QRectF()
        self._text = "\n".join(box.lines)
        style = box.style
        # colours, pens and brushes shared by every box of a style, made once: a paint
        # allocates nothing (it runs per box per frame), and 2,000 boxes add no objects for
        # the garbage collector to walk
        self._look = look(style)
        self._selected_pen = _selection_pen(highlight)
        self._radius = 6.0 if style.rounded else 1.5
        self._far = False  # the view's overview draws the graph (``set_far``)
        self._plain = True
        self._paints = True  # not ItemHasNoContents
        self._overview: GraphOverviewItem | None = None  # which draws it far out
        self.setPos(box.x, box.y)
        self.setZValue(2)
        self._bounds = self._compute_bounds()

    # --- state ----------------------------------------------------------------------------------
    def set_state(self, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"node state must be one of {STATES}, not {state!r}")
        if state != self.state:
            was_done, self.state = self.state == DONE, state
            self.setZValue(3 if state == CURRENT else 2)
            if self._overview is not None and was_done != (state == DONE):
                self._overview.set_done(self.box, state == DONE, repaint=self._far)
            self._sync_contents()
            self.update()

    def set_badge(self, text: str | None) -> None:
        if text == self.badge:
            return
        old = self.sceneBoundingRect() if self._far else None  # to erase, if it stops painting
        self.prepareGeometryChange()
        self.badge = text or None
        self._bounds = self._compute_bounds()
        self._sync_contents(old)
        self.update()

    def set_selected(self, on: bool) -> None:
        if on != self.selected:
            self.selected = on
            self._sync_contents()
            self.update()

    def paints_itself(self) -> bool:
        """Whether Qt calls this item's ``paint`` (False while the overview draws it)."""
        return not self.flags() & _NO_CONTENTS

    def _sync_contents(self, drawn: QRectF | None = None) -> None:
        # plain: normal or done (the overview tints it), not selected, no badge: what the
        # overview draws of it is all
        self._plain = self.state in (NORMAL, DONE) and not self.selected and not self.badge
        paints = not (self._far and self._plain)
        if paints != self._paints:
            _set_contents(self, paints, drawn)

    def set_highlight_color(self, color: QColor) -> None:
        self._selected_pen = _selection_pen(color)
        self.update()

    def fill_color(self) -> QColor:
        """The fill the box is painted with now (its style's, tinted by the state)."""
        return self._fill_brush().color()

    def _fill_brush(self) -> QBrush:
        if self.state == DONE:
            return self._look.done_brush
        if self.state == FLASH:
            return _FLASH_BRUSH
        return self._look.brush

    def border_pen(self) -> QPen:
        """The outline pen for the current state and selection."""
        if self.selected:
            return self._selected_pen
        if self.state in (CURRENT, FLASH):
            return _GLOW_BORDER
        return self._look.pen

    # --- geometry -------------------------------------------------------------------------------
    def _compute_bounds(self) -> QRectF:
        bounds = self._rect.adjusted(-GLOW_MARGIN, -GLOW_MARGIN, GLOW_MARGIN, GLOW_MARGIN)
        if self.badge:
            fm = QFontMetricsF(self._badge_font)
            w = fm.horizontalAdvance(self.badge) + 8.0
            h = fm.height() + 2.0
            # the badge sits on the box's top-right corner, half outside it
            self._badge_rect = QRectF(self._rect.right() - w + 4.0, self._rect.top() - h / 2 - 2,
                                      w, h)
            bounds = bounds.united(self._badge_rect.adjusted(-1, -1, 1, 1))
        return bounds

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self._rect)
        return path

    # --- painting -------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if self.state == CURRENT:
            painter.setPen(_GLOW_HALO)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(self._rect, self._radius + 2, self._radius + 2)
        if lod < FAR_LOD and not self.selected and self.state == NORMAL and not self.badge:
            painter.fillRect(self._rect, self._look.speck)  # a few pixels: a dot of its colour
            return
        painter.setPen(self.border_pen())
        painter.setBrush(self._fill_brush())
        if lod < SQUARE_LOD:  # far out: a plain rectangle is all that can be seen
            painter.drawRect(self._rect)
        else:
            painter.drawRoundedRect(self._rect, self._radius, self._radius)
        if lod * self._font.pixelSize() >= MIN_TEXT_PX:
            painter.setFont(self._font)
            painter.setPen(self._look.text)
            painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self._text)
        if self.selected and lod * self._selected_pen.widthF() < FAR_RING_PX:
            pen = _far_selection_pen(self._selected_pen.color())
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            # just outside the box, within the room bounds keep for the glow and the ring
            m = min(GLOW_MARGIN - 1.0, FAR_RING_PX / lod)
            painter.drawRect(self._rect.adjusted(-m, -m, m, m))
        if self.badge:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(BADGE_FILL)
            r = self._badge_rect.height() / 2
            painter.drawRoundedRect(self._badge_rect, r, r)
            if lod * self._badge_font.pixelSize() >= MIN_TEXT_PX:
                painter.setFont(self._badge_font)
                painter.setPen(BADGE_TEXT)
                painter.drawText(self._badge_rect, Qt.AlignmentFlag.AlignCenter, self.badge)


def spline_path(points) -> QPainterPath:
    """The cubic Bézier path through Graphviz's 3n+1 control points."""
    path = QPainterPath()
    path.moveTo(*points[0])
    for i in range(1, len(points) - 2, 3):  # plain floats: no QPointF per control point
        path.cubicTo(*points[i], *points[i + 1], *points[i + 2])
    return path


def arrowhead(base: QPointF, tip: QPointF, width: float = 5.0) -> QPolygonF:
    """A filled triangle from the spline's end (``base``) to ``tip``."""
    dx, dy = tip.x() - base.x(), tip.y() - base.y()
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    nx, ny = -dy / length * width / 2, dx / length * width / 2
    return QPolygonF([tip, QPointF(base.x() + nx, base.y() + ny),
                      QPointF(base.x() - nx, base.y() - ny)])


class EdgeItem(QGraphicsItem):
    """One edge between boxes (forward direction, as laid out), with its arrowhead, a count
    label on bundled edges, and the animation's pulse.

    ``progress`` is None or t in [0, 1]: the gradient travels backward, so t = 0 is at the
    consumer's end of the edge and t = 1 at the input's.
    """

    def __init__(self, edge: LayoutEdge, color: QColor, font: QFont):
        super().__init__()
        self.edge = edge
        self.progress: float | None = None
        self._color = QColor(color)
        self._font = font
        self._path = spline_path(edge.points)
        self._arrow = (arrowhead(QPointF(*edge.points[-1]), QPointF(*edge.arrow_tip))
                       if edge.arrow and edge.arrow_tip is not None else None)
        self._width = 1.5 if edge.count > 1 else 1.0
        self._pen: QPen | None = None
        self._set_pens()
        self._label_rect = QRectF()
        if edge.label and edge.label_pos is not None:
            fm = QFontMetricsF(font)
            w, h = fm.horizontalAdvance(edge.label) + 4, fm.height()
            self._label_rect = QRectF(edge.label_pos[0] - w / 2, edge.label_pos[1] - h / 2, w, h)
        bounds = self._path.boundingRect()
        if self._arrow is not None:
            bounds = bounds.united(self._arrow.boundingRect())
        if not self._label_rect.isNull():
            bounds = bounds.united(self._label_rect)
        m = PULSE_RADIUS + 3
        self._bounds = bounds.adjusted(-m, -m, m, m)
        self._far = False
        self._plain = True
        self._paints = True
        self.setZValue(1)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def set_color(self, color: QColor) -> None:
        self._color = QColor(color)
        self._set_pens()
        self.update()

    def _set_pens(self) -> None:
        # made once, not per paint (an edge is painted every frame it is on screen), and
        # shared by the edges drawn alike
        key = (self._color.rgba(), self._width, self.edge.arrow)
        pen = _EDGE_PENS.get(key)
        if pen is None:
            pen = _EDGE_PENS[key] = QPen(QColor(self._color), self._width)
            if not self.edge.arrow:
                pen.setStyle(Qt.PenStyle.DashLine)
        self._pen = pen

    def set_progress(self, t: float | None) -> None:
        t = None if t is None else min(1.0, max(0.0, float(t)))
        if t != self.progress:
            self.progress = t
            self._sync_contents()
            self.update()

    def paints_itself(self) -> bool:
        """Whether Qt calls this item's ``paint`` (False while the overview draws it)."""
        return not self.flags() & _NO_CONTENTS

    def _sync_contents(self) -> None:
        self._plain = self.progress is None
        paints = not (self._far and self._plain)
        if paints != self._paints:
            _set_contents(self, paints)

    def path(self) -> QPainterPath:
        """The edge's spline (scene coordinates)."""
        return self._path

    def arrow(self) -> QPolygonF | None:
        """Its arrowhead, or None (an edge to a saved tensor has none)."""
        return self._arrow

    def pulse_position(self) -> QPointF | None:
        """Where the pulse is drawn (scene coordinates), or None without progress."""
        if self.progress is None:
            return None
        # pointAtPercent is by length: the pulse moves at an even speed along the spline
        return self._path.pointAtPercent(1.0 - self.progress)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        active = self.progress is not None
        if lod < FAR_LOD and not active:
            # far out the curve's shape is invisible: a straight hairline is much cheaper
            painter.setPen(QPen(self._color, 0))
            painter.drawLine(self._path.pointAtPercent(0.0), QPointF(*self.edge.end))
            return
        if active:
            painter.setPen(_PULSE_PEN if self.edge.arrow else _PULSE_DASHED)
        else:
            painter.setPen(self._pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if self._arrow is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(PULSE if active else self._color)
            painter.drawPolygon(self._arrow)
        if not self._label_rect.isNull() and lod * self._font.pixelSize() >= MIN_TEXT_PX:
            painter.setFont(self._font)
            painter.setPen(self._color)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.edge.label)
        if active:
            p = self.pulse_position()
            halo = QColor(PULSE)
            halo.setAlpha(90)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(halo)
            painter.drawEllipse(p, PULSE_RADIUS + 2.5, PULSE_RADIUS + 2.5)
            painter.setBrush(PULSE)
            painter.drawEllipse(p, PULSE_RADIUS, PULSE_RADIUS)
            painter.setBrush(QColor(255, 255, 255))
            painter.drawEllipse(p, 1.6, 1.6)


def _set_contents(item, on: bool, drawn: QRectF | None = None) -> None:
    """Whether ``item`` (a ``NodeItem`` or ``EdgeItem``) paints itself. Qt does not repaint
    the area of an item without contents when it is updated, so what it drew last (a glow, a
    selection ring, a badge: ``drawn``, in scene coordinates, if larger than its bounds now)
    is erased here, through the scene, as it stops painting."""
    if not on and item._paints and item.scene() is not None:
        area = item.sceneBoundingRect()
        item.scene().update(area if drawn is None else area.united(drawn))
    item._paints = on
    item.setFlag(_NO_CONTENTS, not on)


def set_far(items, on: bool) -> None:
    """Tell boxes and edges (``NodeItem``, ``EdgeItem``) whether the view's overview draws
    the graph now. Those that are plain then have no contents of their own and Qt skips
    their ``paint``; the others (animated, selected, badged) keep painting themselves. One
    tight loop: the view crosses the threshold with thousands of items (and repaints them
    all anyway, as the zoom changed)."""
    for item in items:
        item._far = on
        paints = not (on and item._plain)
        if paints != item._paints:
            item._paints = paints
            item.setFlag(_NO_CONTENTS, not paints)


class GraphOverviewItem(QGraphicsItem):
    """Every box and edge of a layout, drawn at once when the view is zoomed far out.

    It draws what the items themselves draw at that zoom, without text: edges as their
    splines with arrowheads (straight hairlines below ``FAR_LOD``), boxes as rectangles in
    their style's fill and outline (specks below ``FAR_LOD``). Its geometry is prepared once
    per layout, so a paint is a few batched C++ calls whatever the number of boxes: one path
    per pen for the edges, one for the arrowheads, one ``drawRects`` per box style. Qt caches
    the result in device coordinates, so frames that do not change the zoom (panning, the
    backward animation) copy pixels rather than paint. Not clickable: clicks and tooltips go
    to the items under it, which stay in the scene without contents of their own.

    Boxes the backward pass has executed (the animation's "done" tint, which stays on every
    executed node once a step has played) are drawn by a layer of its own above it, cached
    apart: a node turning done repaints a few rectangles, not every edge.
    """

    def __init__(self, nodes, edges, color: QColor):
        """``nodes`` and ``edges``: the view's ``NodeItem``s and ``EdgeItem``s (their
        geometry is reused, not computed again)."""
        super().__init__()
        self._color = QColor(color)
        # boxes by style: (pen, brush, speck colour, rounded, rects, rounded path)
        styles: dict = {}
        self._done = _DoneLayer(self)
        left = top = float("inf")
        right = bottom = float("-inf")
        for node in nodes:
            node._overview = self  # one way: the overview keeps no item (no reference cycle)
            box = node.box
            x, y, w, h = box.rect
            left, top = min(left, x), min(top, y)
            right, bottom = max(right, x + w), max(bottom, y + h)
            rect = self._done.rects[box.id] = QRectF(x, y, w, h)
            entry = styles.get(box.style)
            if entry is None:
                lk = look(box.style)
                entry = styles[box.style] = (lk.pen, lk.brush, lk.speck, box.style.rounded, [],
                                             QPainterPath())
            entry[4].append(rect)
            if box.style.rounded:
                entry[5].addRoundedRect(rect, 6.0, 6.0)
        self._styles = list(styles.values())
        bounds = QRectF(left, top, right - left, bottom - top) if styles else QRectF()
        # edges: one path per (width, dashed), and the arrowheads
        paths: dict[tuple[float, bool], QPainterPath] = {}
        self._arrows = QPainterPath()
        self._arrows.setFillRule(Qt.FillRule.WindingFill)
        self._edges = []  # the layout's edges (for the hairlines), not the items
        for item in edges:
            edge = item.edge
            self._edges.append(edge)
            key = (1.5 if edge.count > 1 else 1.0, not edge.arrow)
            paths.setdefault(key, QPainterPath()).addPath(item.path())
            if item.arrow() is not None:
                self._arrows.addPolygon(item.arrow())
        self._hairlines: list[QLineF] | None = None  # made when first zoomed out that far
        self._edge_paths = list(paths.items())
        for path in [p for _key, p in self._edge_paths] + [self._arrows]:
            bounds = bounds.united(path.boundingRect())
        self._bounds = bounds.adjusted(-4, -4, 4, 4)
        self.setZValue(0.5)  # above group frames, below every item that paints itself
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return QPainterPath()  # never under the mouse: the boxes and edges are

    def set_color(self, color: QColor) -> None:
        """The edges' colour (the theme's)."""
        self._color = QColor(color)
        self.update()

    def set_shown(self, on: bool) -> None:
        """Show or hide the overview (the view: zoomed out past the labels, or not). Shown
        again, it paints afresh: what changed while it was hidden did not reach its cache."""
        self.setVisible(on)
        if on:
            self.update()
            self._done.update()

    def set_done(self, box, on: bool, *, repaint: bool = True) -> None:
        """Draw ``box`` (a ``LayoutBox``) with the "done" tint, or not; its item's
        ``set_state`` calls this (``repaint``: only while the overview is shown)."""
        self._done.set_done(box, on, repaint)

    def done_count(self) -> int:
        """How many boxes are drawn with the "done" tint."""
        return self._done.count()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < FAR_LOD:
            if self._hairlines is None:
                self._hairlines = [QLineF(QPointF(*e.points[0]), QPointF(*e.end))
                                   for e in self._edges]
            painter.setPen(QPen(self._color, 0))
            painter.drawLines(self._hairlines)
            painter.setPen(Qt.PenStyle.NoPen)
            for _pen, _brush, speck, _rounded, rects, _path in self._styles:
                painter.setBrush(speck)
                painter.drawRects(rects)
            return
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for (width, dashed), path in self._edge_paths:
            pen = QPen(self._color, width)
            if dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawPath(path)
        if lod >= SQUARE_LOD:
            # smaller, an arrowhead is a pixel-sized smudge on its edge's end, and
            # antialiasing thousands of them would cost more than the rest of the picture
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._color)
            painter.drawPath(self._arrows)
        for pen, brush, _speck, rounded, rects, path in self._styles:
            painter.setPen(pen)
            painter.setBrush(brush)
            if rounded and lod >= SQUARE_LOD:
                painter.drawPath(path)
            else:
                painter.drawRects(rects)


class _DoneLayer(QGraphicsItem):
    """The overview's boxes in the "done" tint, over the overview's own (a child item: it
    shows and hides with it, and has a device-coordinate cache of its own)."""

    def __init__(self, parent: GraphOverviewItem):
        super().__init__(parent)
        self.rects: dict[str, QRectF] = {}  # every box's, by id, filled in by the overview
        self._done: dict[str, object] = {}  # box id -> BoxStyle
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self) -> QRectF:
        return self.parentItem().boundingRect()

    def shape(self) -> QPainterPath:
        return QPainterPath()

    def count(self) -> int:
        return len(self._done)

    def set_done(self, box, on: bool, repaint: bool) -> None:
        # called for every node of a backward pass the animation jumps over: cheap when
        # hidden (zoomed in), where nothing needs repainting
        if on:
            self._done[box.id] = box.style
        else:
            self._done.pop(box.id, None)
        if repaint:
            self.update(self.rects[box.id].adjusted(-2, -2, 2, 2))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if not self._done:
            return
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        by_style: dict = {}
        for box_id, style in self._done.items():
            by_style.setdefault(style, []).append(self.rects[box_id])
        for style, rects in by_style.items():
            lk = look(style)
            painter.setPen(Qt.PenStyle.NoPen if lod < FAR_LOD else lk.pen)
            painter.setBrush(lk.done_brush)
            if style.rounded and lod >= SQUARE_LOD:  # group boxes: a few
                for rect in rects:
                    painter.drawRoundedRect(rect, 6.0, 6.0)
            else:
                painter.drawRects(rects)


class GroupFrameItem(QGraphicsItem):
    """A dashed frame around the boxes of an expanded group, with a small "−" handle on its
    top-left corner: double-clicking the handle (or the view's context menu, or Backspace on
    a member) collapses the group back into one box. ``title`` names the group (tooltip)."""

    HANDLE = 13.0

    def __init__(self, group_id: str, title: str, rect: QRectF, color: QColor):
        super().__init__()
        self.group_id = group_id
        self.title = title
        self._color = QColor(color)
        self._rect = rect.adjusted(-8, -8, 8, 8)
        h = self.HANDLE
        # the handle straddles the corner: edges entering the group rarely pass there
        self.tab_rect = QRectF(self._rect.left() - h / 2, self._rect.top() - h / 2, h, h)
        self._bounds = self._rect.united(self.tab_rect).adjusted(-2, -2, 2, 2)
        self.setZValue(0)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def frame_rect(self) -> QRectF:
        return QRectF(self._rect)

    def shape(self) -> QPainterPath:
        # only the handle is clickable: the frame's inside belongs to the boxes and background
        path = QPainterPath()
        path.addRect(self.tab_rect)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        fill = QColor(self._color)
        fill.setAlpha(28)
        painter.setPen(QPen(self._color, 1.2, Qt.PenStyle.DashLine))
        painter.setBrush(fill)
        painter.drawRoundedRect(self._rect, 8, 8)
        painter.setPen(QPen(self._color.darker(120), 1.0))
        painter.setBrush(QColor(255, 255, 255))
        painter.drawRoundedRect(self.tab_rect, 3, 3)
        c = self.tab_rect.center()
        painter.setPen(QPen(self._color.darker(120), 1.6))
        painter.drawLine(QPointF(c.x() - 3.5, c.y()), QPointF(c.x() + 3.5, c.y()))


# --- problem badges ---------------------------------------------------------------------------

def problem_colors(severity: str, palette: QPalette) -> tuple[QColor, QColor]:
    """(fill, text) of a problem marker of ``severity`` ("error" or "warning") on
    ``palette``: the theme's error red, or an amber, each in its light or dark variant."""
    dark = theme.is_dark(palette)
    if severity == ERROR:
        fill = theme.colors(palette).error
    else:
        fill = QColor("#fbbf24" if dark else "#d97706")
    # dark text on the light fills of the dark theme, white on the deep ones of the light
    return QColor(fill), QColor("#1e1f22" if dark else "#ffffff")


def paint_problem_marker(painter: QPainter, rect: QRectF, severity: str, fill: QColor,
                         text: QColor) -> None:
    """The marker of one severity in ``rect`` (a square): a circle for an error, a triangle
    for a warning, with an exclamation mark; drawn the same on the graph and in the list."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    if severity == ERROR:
        painter.drawEllipse(rect)
    else:
        painter.drawPolygon(QPolygonF([QPointF(rect.center().x(), rect.top()),
                                       rect.bottomRight(), rect.bottomLeft()]))
    c, h = rect.center(), rect.height()
    top = rect.top() + h * (0.22 if severity == ERROR else 0.34)
    painter.setPen(QPen(text, max(1.2, h * 0.13), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.drawLine(QPointF(c.x(), top), QPointF(c.x(), rect.top() + h * 0.62))
    painter.drawPoint(QPointF(c.x(), rect.top() + h * 0.80))
    painter.restore()


def problem_icon(severity: str, palette: QPalette, size: int = 14) -> QIcon:
    """The marker as an icon (the Problems panel's rows)."""
    pixmap = QPixmap(size * 2, size * 2)  # drawn at twice the size: crisp on high-DPI too
    pixmap.fill(Qt.GlobalColor.transparent)
    pixmap.setDevicePixelRatio(2.0)
    painter = QPainter(pixmap)
    paint_problem_marker(painter, QRectF(1, 1, size - 2, size - 2), severity,
                         *problem_colors(severity, palette))
    painter.end()
    return QIcon(pixmap)


class ProblemBadgeItem(QGraphicsItem):
    """The diagnostics of one box, drawn on its bottom-left corner: the marker of the worst
    severity and how many findings there are. It keeps its size on screen at every zoom
    (a problem must show on a 2,000-box graph seen whole), sits above every box, and carries
    ``diagnostics`` (what the view passes on when it is clicked) and ``tooltip``."""

    def __init__(self, parent: NodeItem, diagnostics: list, severity: str, tooltip: str,
                 palette: QPalette):
        super().__init__(parent)
        self.diagnostics = list(diagnostics)
        self.severity = severity
        self.tooltip = tooltip
        self.count = len(self.diagnostics)
        self._font = QFont()
        self._font.setPixelSize(PROBLEM_PX - 5)
        self._font.setBold(True)
        self._text = str(self.count)
        fm = QFontMetricsF(self._font)
        h = float(PROBLEM_PX)
        w = h + 2.0 + fm.horizontalAdvance(self._text) + 6.0
        # centred on the box's bottom-left corner: the animation's gradient badge sits on the
        # top-right one, and is often wider than a leaf's box (the leaves are where many
        # findings point), so the top edge has no room; edges meet boxes in the middle
        self._rect = QRectF(-h / 2, -h / 2, w, h)
        self._outline = QColor()
        self._fill = QColor()
        self._text_color = QColor()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setPos(-parent.box.width / 2, parent.box.height / 2)
        self.setZValue(10)
        self.set_palette(palette)

    def set_palette(self, palette: QPalette) -> None:
        self._fill, self._text_color = problem_colors(self.severity, palette)
        self._outline = palette.color(QPalette.ColorRole.Base)
        self.update()

    def fill_color(self) -> QColor:
        return QColor(self._fill)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1.5, -1.5, 1.5, 1.5)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self._rect, self._rect.height() / 2, self._rect.height() / 2)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        r = self._rect
        # a pill in the background's colour with a tint of the severity: it reads on the
        # box's light fill and on the view's background alike
        tint = blend(self._outline, self._fill, 0.22)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self._fill, 1.5))
        painter.setBrush(tint)
        painter.drawRoundedRect(r, r.height() / 2, r.height() / 2)
        marker = QRectF(r.left() + 2.0, r.top() + 2.0, r.height() - 4.0, r.height() - 4.0)
        paint_problem_marker(painter, marker, self.severity, self._fill, self._text_color)
        painter.setFont(self._font)
        painter.setPen(self._fill)
        text_rect = QRectF(marker.right() + 1.0, r.top(), r.right() - marker.right() - 3.0,
                           r.height())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, self._text)
