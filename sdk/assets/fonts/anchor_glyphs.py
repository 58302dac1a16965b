"""Add two invisible one-point contours to every drawn glyph, at (0, ascender) and (0, descender),
so each glyph's bounding box starts at the pen position and spans the same height. plotters'
ab_glyph text renderer places a glyph's bounding box (not its origin) at the pen, so without this
left side bearings are lost and glyphs shift vertically by rounding (e.g. '.' sits too high)."""
import sys
from fontTools.ttLib import TTFont
from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.pens.ttGlyphPen import TTGlyphPen

src, dst = sys.argv[1], sys.argv[2]
font = TTFont(src)
glyf, hmtx, hhea = font["glyf"], font["hmtx"], font["hhea"]
asc, desc = hhea.ascent, hhea.descent
gs = font.getGlyphSet()
for name in font.getGlyphOrder():
    g = glyf[name]
    if g.numberOfContours == 0:
        continue  # nothing drawn (space)
    rec = DecomposingRecordingPen(gs)
    gs[name].draw(rec)
    pen = TTGlyphPen(None)
    rec.replay(pen)
    new = pen.glyph()
    # Append two one-point contours (TTGlyphPen drops those, so edit the arrays directly).
    for y in (asc, desc):
        new.coordinates.append((0, y))
        new.flags.append(1)  # on-curve
        new.endPtsOfContours.append(len(new.coordinates) - 1)
    new.numberOfContours = len(new.endPtsOfContours)
    new.recalcBounds(glyf)
    glyf[name] = new
    adv, _ = hmtx[name]
    hmtx[name] = (adv, new.xMin)
font.save(dst)
