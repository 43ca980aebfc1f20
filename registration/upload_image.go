package registration

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image/jpeg"
	"image/png"
	"io"
)

// The JPEG and PNG checks read the structure of the file, segment by
// segment or chunk by chunk, to its end marker: the dimensions come from
// the header before anything is decoded, and after the end marker only
// padding may follow. The pixels of a PNG are inflated and counted, never
// kept; a JPEG's entropy-coded data is walked, not decoded. Neither
// allocates a pixel buffer, so a flood of uploads cannot make the server
// hold 100 MB images (a full decode would), and image.DecodeConfig, which
// the viewers' decoders agree with, must accept the file too.

// imageSize refuses dimensions over MaxImageSide or MaxImagePixels.
func imageSize(w, h int) string {
	if w > MaxImageSide || h > MaxImageSide || w*h > MaxImagePixels {
		return KeyFileImageTooLarge
	}
	return ""
}

// onlyPadding reports whether what follows an image's end marker is
// trivial: nothing, or NUL bytes (some writers pad to a block size). Any
// other byte is data no viewer shows: an appended archive (a JPEG/ZIP
// polyglot), a second image, a phone's private trailer. Re-saving the image
// drops it.
func onlyPadding(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// pdfInImage reports a PDF header where PDF readers look for one (they
// accept up to 1 KB of junk before it): an image that is also a PDF.
func pdfInImage(data []byte) bool {
	return bytes.Contains(data[:min(len(data), 1024)], []byte("%PDF-"))
}

// checkJPEG checks a file starting with a JPEG SOI marker.
func checkJPEG(data []byte) string {
	if pdfInImage(data) {
		return KeyFileHiddenData
	}
	w, h, end, key := walkJPEG(data)
	if key != "" {
		return key
	}
	if !onlyPadding(data[end:]) {
		return KeyFileHiddenData
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width != w || cfg.Height != h {
		return KeyFileType
	}
	return ""
}

// walkJPEG follows the marker segments of a JPEG (ITU-T T.81 Annex B) from
// SOI to EOI and returns the frame's dimensions and the offset after EOI.
// Segments are skipped by their length, so an EXIF thumbnail's own EOI in
// APP1 is not taken for the end; after each SOS the entropy-coded data is
// scanned to the next marker (0xFF 0x00 is a stuffed byte, RST0–7 restart
// markers belong to the data). One frame, at least one scan, nothing but
// fill bytes between segments.
func walkJPEG(data []byte) (w, h, end int, key string) {
	pos := 2 // after SOI
	frame, scan := false, false
	for {
		if pos >= len(data) || data[pos] != 0xFF {
			return 0, 0, 0, KeyFileType
		}
		for pos < len(data) && data[pos] == 0xFF { // fill bytes
			pos++
		}
		if pos >= len(data) {
			return 0, 0, 0, KeyFileType
		}
		m := data[pos]
		pos++
		switch {
		case m == 0xD9: // EOI
			if !frame || !scan {
				return 0, 0, 0, KeyFileType
			}
			return w, h, pos, ""
		case m == 0x01: // TEM, no length
			continue
		case m == 0x00 || m == 0xD8 || m >= 0xD0 && m <= 0xD7: // stray byte, second SOI, RSTn outside a scan
			return 0, 0, 0, KeyFileType
		}
		if pos+2 > len(data) {
			return 0, 0, 0, KeyFileType
		}
		n := int(binary.BigEndian.Uint16(data[pos:]))
		if n < 2 || pos+n > len(data) {
			return 0, 0, 0, KeyFileType
		}
		seg := data[pos+2 : pos+n]
		pos += n
		switch {
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC: // SOFn
			if frame || len(seg) < 6 {
				return 0, 0, 0, KeyFileType
			}
			frame = true
			h, w = int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
			if w == 0 || h == 0 { // a height set later by DNL: no decoder we use takes it
				return 0, 0, 0, KeyFileType
			}
			if key := imageSize(w, h); key != "" {
				return 0, 0, 0, key
			}
		case m == 0xDA: // SOS
			if !frame {
				return 0, 0, 0, KeyFileType
			}
			scan = true
			next, ok := entropyEnd(data, pos)
			if !ok {
				return 0, 0, 0, KeyFileType
			}
			pos = next
		}
	}
}

// entropyEnd returns the offset of the 0xFF that starts the first marker at
// or after pos that is not part of entropy-coded data.
func entropyEnd(data []byte, pos int) (int, bool) {
	for {
		k := bytes.IndexByte(data[pos:], 0xFF)
		if k < 0 {
			return 0, false
		}
		j := pos + k + 1
		for j < len(data) && data[j] == 0xFF {
			j++
		}
		if j >= len(data) {
			return 0, false
		}
		if b := data[j]; b == 0x00 || b >= 0xD0 && b <= 0xD7 {
			pos = j + 1
			continue
		}
		return j - 1, true
	}
}

// pngHeader is the IHDR chunk.
type pngHeader struct {
	width, height       int
	depth, colour       byte
	interlace           byte
	channels, pixelBits int
}

// pngChannels is the channel count of each PNG colour type, with the bit
// depths it allows (PNG §11.2.2).
var pngChannels = map[byte]struct {
	channels int
	depths   string
}{
	0: {1, "\x01\x02\x04\x08\x10"}, // grey
	2: {3, "\x08\x10"},             // RGB
	3: {1, "\x01\x02\x04\x08"},     // palette
	4: {2, "\x08\x10"},             // grey and alpha
	6: {4, "\x08\x10"},             // RGBA
}

// checkPNG checks a file starting with the PNG signature: chunk by chunk
// (length, type, data, CRC) from IHDR to IEND, the dimensions from IHDR
// before anything else, no unknown critical chunk, consecutive IDAT
// chunks, and then the image data itself.
func checkPNG(data []byte) string {
	if pdfInImage(data) {
		return KeyFileHiddenData
	}
	var (
		hdr            pngHeader
		palette, ended bool
		idat           [][]byte
		idatClosed     bool // a chunk followed the IDAT run
	)
	pos := 8
	for !ended {
		if pos+12 > len(data) {
			return KeyFileType
		}
		n := int64(binary.BigEndian.Uint32(data[pos:]))
		if n > int64(len(data)-pos-12) {
			return KeyFileType
		}
		typ, body := data[pos+4:pos+8], data[pos+8:pos+8+int(n)]
		if crc32.ChecksumIEEE(data[pos+4:pos+8+int(n)]) != binary.BigEndian.Uint32(data[pos+8+int(n):]) {
			return KeyFileType
		}
		for _, c := range typ {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return KeyFileType
			}
		}
		first := pos == 8
		pos += 12 + int(n)
		if first != (string(typ) == "IHDR") {
			return KeyFileType
		}
		switch string(typ) {
		case "IHDR":
			var key string
			if hdr, key = parseIHDR(body); key != "" {
				return key
			}
		case "PLTE":
			if palette || len(idat) > 0 || n == 0 || n%3 != 0 || n > 3*256 {
				return KeyFileType
			}
			palette = true
		case "IDAT":
			if idatClosed || hdr.colour == 3 && !palette {
				return KeyFileType
			}
			idat = append(idat, body)
		case "IEND":
			if len(idat) == 0 || n != 0 {
				return KeyFileType
			}
			ended = true
		default:
			if typ[0] <= 'Z' { // critical chunk a decoder does not know: it must fail
				return KeyFileType
			}
		}
		if string(typ) != "IDAT" && len(idat) > 0 {
			idatClosed = true
		}
	}
	if !onlyPadding(data[pos:]) {
		return KeyFileHiddenData
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width != hdr.width || cfg.Height != hdr.height {
		return KeyFileType
	}
	return pngPixels(hdr, idat)
}

func parseIHDR(b []byte) (pngHeader, string) {
	if len(b) != 13 {
		return pngHeader{}, KeyFileType
	}
	w, h := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if w == 0 || h == 0 || w > 1<<31-1 || h > 1<<31-1 {
		return pngHeader{}, KeyFileType
	}
	if key := imageSize(int(min(w, 1<<20)), int(min(h, 1<<20))); key != "" {
		return pngHeader{}, key
	}
	hdr := pngHeader{width: int(w), height: int(h), depth: b[8], colour: b[9], interlace: b[12]}
	ct, ok := pngChannels[hdr.colour]
	if !ok || bytes.IndexByte([]byte(ct.depths), hdr.depth) < 0 || b[10] != 0 || b[11] != 0 || hdr.interlace > 1 {
		return pngHeader{}, KeyFileType
	}
	hdr.channels, hdr.pixelBits = ct.channels, ct.channels*int(hdr.depth)
	return hdr, ""
}

// adam7 is the interlace passes: x and y of the first pixel, x and y step.
var adam7 = [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}

// pngPixels inflates the image data (verifying its Adler-32) and checks it
// is exactly the rows the header promises, each with a valid filter type:
// what a decoder needs, without the pixel buffer. The work is bounded by
// the pixel cap: at most 25 million pixels of at most 8 bytes.
func pngPixels(hdr pngHeader, idat [][]byte) string {
	r := &partsReader{parts: idat}
	z, err := zlib.NewReader(r)
	if err != nil {
		return KeyFileType
	}
	passes := [][4]int{{0, 0, 1, 1}}
	if hdr.interlace == 1 {
		passes = adam7[:]
	}
	row := make([]byte, 1+(hdr.width*hdr.pixelBits+7)/8)
	for _, p := range passes {
		pw := (hdr.width - p[0] + p[2] - 1) / p[2]
		ph := (hdr.height - p[1] + p[3] - 1) / p[3]
		if pw <= 0 || ph <= 0 {
			continue // an empty pass has no rows at all
		}
		line := row[:1+(pw*hdr.pixelBits+7)/8]
		for range ph {
			if _, err := io.ReadFull(z, line); err != nil || line[0] > 4 {
				return KeyFileType
			}
		}
	}
	// The zlib stream must end here (Read checks the Adler-32 at its end),
	// and the IDAT chunks with it.
	if n, err := z.Read(row[:1]); n != 0 {
		return KeyFileHiddenData
	} else if err != io.EOF {
		return KeyFileType
	}
	if r.remaining() > 0 {
		return KeyFileHiddenData
	}
	return ""
}

// partsReader reads the IDAT chunks' data as one stream. It is an
// io.ByteReader, so zlib reads exactly the compressed stream and what is
// left over can be counted.
type partsReader struct {
	parts [][]byte
}

func (r *partsReader) Read(p []byte) (int, error) {
	for len(r.parts) > 0 && len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	return n, nil
}

func (r *partsReader) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := r.Read(b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *partsReader) remaining() int {
	n := 0
	for _, p := range r.parts {
		n += len(p)
	}
	return n
}
