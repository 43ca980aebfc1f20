package captcha

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	mrand "math/rand/v2"
)

// Image size in pixels. The page states it, so the layout does not jump
// while the image loads.
const (
	Width  = 280
	Height = 90
)

// alphabet holds the characters a code is drawn from: upper case letters
// and digits that stay distinct when rotated and distorted. Left out: 0 O Q
// (one round shape), 1 I L l, 2 Z, 5 S, 8 B, G (like 6 and C), V (like U).
const alphabet = "ACDEFHJKMNPRTUWXY34679"

// glyphs is a 5×7 bitmap font for alphabet, one string of 35 cells per
// character, row by row. Drawn here rather than loaded from a font file so
// the binary needs nothing at run time and the shapes are known to be
// unambiguous.
var glyphs = map[byte]string{
	'A': ".###." + "#...#" + "#...#" + "#####" + "#...#" + "#...#" + "#...#",
	'C': ".###." + "#...#" + "#...." + "#...." + "#...." + "#...#" + ".###.",
	'D': "####." + "#...#" + "#...#" + "#...#" + "#...#" + "#...#" + "####.",
	'E': "#####" + "#...." + "#...." + "####." + "#...." + "#...." + "#####",
	'F': "#####" + "#...." + "#...." + "####." + "#...." + "#...." + "#....",
	'H': "#...#" + "#...#" + "#...#" + "#####" + "#...#" + "#...#" + "#...#",
	'J': "..###" + "...#." + "...#." + "...#." + "...#." + "#..#." + ".##..",
	'K': "#...#" + "#..#." + "#.#.." + "##..." + "#.#.." + "#..#." + "#...#",
	'M': "#...#" + "##.##" + "#.#.#" + "#.#.#" + "#...#" + "#...#" + "#...#",
	'N': "#...#" + "#...#" + "##..#" + "#.#.#" + "#..##" + "#...#" + "#...#",
	'P': "####." + "#...#" + "#...#" + "####." + "#...." + "#...." + "#....",
	'R': "####." + "#...#" + "#...#" + "####." + "#.#.." + "#..#." + "#...#",
	'T': "#####" + "..#.." + "..#.." + "..#.." + "..#.." + "..#.." + "..#..",
	'U': "#...#" + "#...#" + "#...#" + "#...#" + "#...#" + "#...#" + ".###.",
	'W': "#...#" + "#...#" + "#...#" + "#.#.#" + "#.#.#" + "#.#.#" + ".#.#.",
	'X': "#...#" + "#...#" + ".#.#." + "..#.." + ".#.#." + "#...#" + "#...#",
	'Y': "#...#" + "#...#" + ".#.#." + "..#.." + "..#.." + "..#.." + "..#..",
	'3': "#####" + "...#." + "..#.." + "...#." + "....#" + "#...#" + ".###.",
	'4': "...#." + "..##." + ".#.#." + "#..#." + "#####" + "...#." + "...#.",
	'6': "..##." + ".#..." + "#...." + "####." + "#...#" + "#...#" + ".###.",
	'7': "#####" + "....#" + "...#." + "..#.." + ".#..." + ".#..." + ".#...",
	'9': ".###." + "#...#" + "#...#" + ".####" + "....#" + "...#." + ".##..",
}

const glyphW, glyphH = 5, 7

func (g glyph) set(col, row int) bool {
	return col >= 0 && col < glyphW && row >= 0 && row < glyphH && g.cells[row*glyphW+col] == '#'
}

// glyph is one character as placed on the image: where, how large, turned
// and slanted how far, in which colour.
type glyph struct {
	cells      string
	cx, cy     float64 // centre
	scale      float64 // pixels per font cell
	sin, cos   float64 // rotation
	shear      float64
	colorIndex uint8
}

// newRand returns a generator seeded from crypto/rand: the distortions of
// one image must not be predictable from another's.
func newRand() *mrand.Rand {
	var seed [32]byte
	rand.Read(seed[:]) // never fails (crypto/rand documents it)
	return mrand.New(mrand.NewChaCha8(seed))
}

// between returns a uniform float in [lo, hi).
func between(r *mrand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

// palette indexes of the image's colours.
const (
	bgLight   = iota // background, two tints
	bgDark           //
	blobTint         // soft patches that break up the background
	firstInk         // glyph colours follow; noise lines reuse them
	inkColors = 5
	dotColor  = firstInk + inkColors
	paletteN  = dotColor + 1
)

// Render draws code as a PNG: each character scaled, turned, slanted and
// shifted on its own, the whole text bent along a wave, with lines and
// dots in the characters' own colours crossing it, so that a fixed
// segmentation or colour filter does not separate the text from the noise.
// People read it at a glance; the font is large and the contrast high.
func Render(code string) ([]byte, error) {
	img := render(code, newRand())
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("captcha: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

func render(code string, r *mrand.Rand) *image.Paletted {
	pal := make(color.Palette, paletteN)
	pal[bgLight] = color.RGBA{uint8(240 + r.IntN(12)), uint8(240 + r.IntN(12)), uint8(236 + r.IntN(12)), 255}
	pal[bgDark] = color.RGBA{uint8(222 + r.IntN(14)), uint8(226 + r.IntN(14)), uint8(222 + r.IntN(14)), 255}
	pal[blobTint] = color.RGBA{uint8(205 + r.IntN(25)), uint8(210 + r.IntN(25)), uint8(215 + r.IntN(25)), 255}
	for i := range inkColors {
		// Dark and saturated enough for a contrast well above 4.5:1 on the
		// light background (WCAG 1.4.3), varied so no single hue is "the text".
		pal[firstInk+i] = color.RGBA{uint8(15 + r.IntN(95)), uint8(15 + r.IntN(80)), uint8(40 + r.IntN(100)), 255}
	}
	pal[dotColor] = color.RGBA{uint8(90 + r.IntN(60)), uint8(90 + r.IntN(60)), uint8(90 + r.IntN(60)), 255}
	img := image.NewPaletted(image.Rect(0, 0, Width, Height), pal)

	// Background: two tints in irregular bands, and a few soft patches.
	bandPhase, bandFreq := between(r, 0, 2*math.Pi), between(r, 0.03, 0.07)
	for y := range Height {
		for x := range Width {
			idx := uint8(bgLight)
			if math.Sin(float64(x)*bandFreq+float64(y)*bandFreq/2+bandPhase) > 0.55 {
				idx = bgDark
			}
			img.SetColorIndex(x, y, idx)
		}
	}
	for range 5 {
		cx, cy, rad := r.IntN(Width), r.IntN(Height), 6+r.IntN(14)
		for y := max(0, cy-rad); y < min(Height, cy+rad); y++ {
			for x := max(0, cx-rad); x < min(Width, cx+rad); x++ {
				if (x-cx)*(x-cx)+(y-cy)*(y-cy) < rad*rad && r.IntN(3) > 0 {
					img.SetColorIndex(x, y, blobTint)
				}
			}
		}
	}

	// Characters, placed left to right with jitter.
	n := len(code)
	margin := 18.0
	step := (Width - 2*margin) / float64(n)
	gs := make([]glyph, 0, n)
	for i := range n {
		cells, ok := glyphs[code[i]]
		if !ok {
			continue // cannot happen: codes come from alphabet
		}
		angle := between(r, -0.3, 0.3)
		gs = append(gs, glyph{
			cells:      cells,
			cx:         margin + step*(float64(i)+0.5) + between(r, -3, 3),
			cy:         Height/2 + between(r, -6, 6),
			scale:      between(r, 5.6, 6.6),
			sin:        math.Sin(angle),
			cos:        math.Cos(angle),
			shear:      between(r, -0.25, 0.25),
			colorIndex: uint8(firstInk + r.IntN(inkColors)),
		})
	}
	// The wave bends every character differently depending on where it
	// stands, by up to a cell: the baseline is never straight.
	ampY, perY, phY := between(r, 2.5, 4.5), between(r, 60, 110), between(r, 0, 2*math.Pi)
	ampX, perX, phX := between(r, 1, 2), between(r, 30, 50), between(r, 0, 2*math.Pi)
	reach := 7 * 7.0 // a glyph's half diagonal, generously
	for y := range Height {
		for x := range Width {
			sx := float64(x) + ampX*math.Sin(2*math.Pi*float64(y)/perX+phX)
			sy := float64(y) + ampY*math.Sin(2*math.Pi*float64(x)/perY+phY)
			for i := range gs {
				g := &gs[i]
				dx, dy := sx-g.cx, sy-g.cy
				if math.Abs(dx) > reach || math.Abs(dy) > reach {
					continue
				}
				// Into the glyph's own coordinates: undo the rotation, then
				// the slant, then the scale.
				u := dx*g.cos + dy*g.sin
				v := -dx*g.sin + dy*g.cos
				u -= g.shear * v
				// A third of a cell of extra weight on each stroke keeps the
				// thin 5×7 shapes legible once bent.
				fu, fv := u/g.scale+glyphW/2.0, v/g.scale+glyphH/2.0
				row := int(math.Floor(fv))
				if g.set(int(math.Floor(fu)), row) || g.set(int(math.Floor(fu-0.35)), row) || g.set(int(math.Floor(fu)), int(math.Floor(fv-0.3))) {
					img.SetColorIndex(x, y, g.colorIndex)
				}
			}
		}
	}

	// Noise: a curve through the text in an ink colour, thick enough to
	// join characters, and three thin straight lines.
	for range 1 {
		idx := uint8(firstInk + r.IntN(inkColors))
		y0, amp, per, ph := between(r, 20, Height-20), between(r, 6, 16), between(r, 60, 160), between(r, 0, 2*math.Pi)
		slope := between(r, -0.15, 0.15)
		for x := range Width {
			y := int(y0 + slope*float64(x-Width/2) + amp*math.Sin(2*math.Pi*float64(x)/per+ph))
			for t := range 2 {
				if y+t >= 0 && y+t < Height {
					img.SetColorIndex(x, y+t, idx)
				}
			}
		}
	}
	for range 3 {
		line(img, r.IntN(Width), r.IntN(Height), r.IntN(Width), r.IntN(Height), uint8(firstInk+r.IntN(inkColors)))
	}
	for range Width * Height / 60 {
		idx := uint8(dotColor)
		if r.IntN(2) == 0 {
			idx = uint8(firstInk + r.IntN(inkColors))
		}
		img.SetColorIndex(r.IntN(Width), r.IntN(Height), idx)
	}
	return img
}

// line draws a one-pixel line (Bresenham).
func line(img *image.Paletted, x0, y0, x1, y1 int, idx uint8) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.SetColorIndex(x0, y0, idx)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// newCode returns a random code of n characters from alphabet, drawn with
// crypto/rand: a predictable code would be no challenge at all.
func newCode(n int) string {
	b := make([]byte, n)
	var buf [8]byte
	for i := 0; i < n; {
		rand.Read(buf[:])
		v := binary.LittleEndian.Uint64(buf[:])
		// Rejection keeps every character equally likely.
		if v >= math.MaxUint64-math.MaxUint64%uint64(len(alphabet)) {
			continue
		}
		b[i] = alphabet[v%uint64(len(alphabet))]
		i++
	}
	return string(b)
}
