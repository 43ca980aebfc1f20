package registration

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
	"testing"
)

// pngChunk is one chunk with its length and CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

func ihdr(w, h uint32, depth, colour, interlace byte) []byte {
	b := make([]byte, 13)
	binary.BigEndian.PutUint32(b, w)
	binary.BigEndian.PutUint32(b[4:], h)
	b[8], b[9], b[12] = depth, colour, interlace
	return pngChunk("IHDR", b)
}

// pngFile is a PNG signature and chunks.
func pngFile(chunks ...[]byte) []byte {
	return append([]byte("\x89PNG\r\n\x1a\n"), bytes.Join(chunks, nil)...)
}

// zlibStream compresses what r yields, so a bomb's raw rows need not be
// held in memory.
func zlibStream(t testing.TB, r io.Reader) []byte {
	t.Helper()
	var b bytes.Buffer
	z, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	if _, err := io.Copy(z, r); err != nil {
		t.Fatal(err)
	}
	z.Close()
	return b.Bytes()
}

// zeroPNG is a w×h image of the given depth and colour type whose rows are
// all zero (filter type 0, black): what compresses best.
func zeroPNG(t testing.TB, w, h uint32, depth, colour byte) []byte {
	channels := map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
	raw := int64(h) * (1 + (int64(w)*int64(channels)*int64(depth)+7)/8)
	return pngFile(ihdr(w, h, depth, colour, 0), pngChunk("IDAT", zlibStream(t, io.LimitReader(zeroReader{}, raw))), pngChunk("IEND", nil))
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// jpegEXIF is jpegImage with an APP1 EXIF segment holding a thumbnail,
// itself a whole JPEG with its own EOI: the end of the file is not the
// first FF D9.
func jpegEXIF(t testing.TB) []byte {
	main, thumb := jpegImage(t), jpegImage(t)
	payload := append([]byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08"), thumb...)
	seg := append([]byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	return append(append([]byte{0xFF, 0xD8}, seg...), main[2:]...)
}

// jpegSize is j with the frame's dimensions replaced.
func jpegSize(t *testing.T, j []byte, w, h uint16) []byte {
	j = bytes.Clone(j)
	i := bytes.Index(j, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	binary.BigEndian.PutUint16(j[i+5:], h)
	binary.BigEndian.PutUint16(j[i+7:], w)
	return j
}

// insertAfterSOI puts b right after a JPEG's SOI marker.
func insertAfterSOI(j, b []byte) []byte {
	return append(append([]byte{0xFF, 0xD8}, b...), j[2:]...)
}

// noisyJPEG is a 64×64 JPEG of noise: a scan of a few hundred bytes.
func noisyJPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7919 >> 3)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestUploadJPEGStructure(t *testing.T) {
	j, exif := noisyJPEG(t), jpegEXIF(t)
	zip := []byte("PK\x03\x04\x14\x00\x00\x00payload" + "PK\x05\x06" + strings.Repeat("\x00", 18))
	sos := bytes.Index(j, []byte{0xFF, 0xDA})
	scanStart := sos + 2 + int(binary.BigEndian.Uint16(j[sos+2:]))
	restarts := append(append(bytes.Clone(j[:scanStart+1]), 0xFF, 0xD0, 0xFF, 0x00, 0xFF, 0xFF, 0xD1), j[scanStart+1:]...)
	com := []byte{0xFF, 0xFE, 0x00, 0x0A, '%', 'P', 'D', 'F', '-', '1', '.', '4'}
	runUploadCases(t, []uploadCase{
		{"JPEG", j, ""},
		{"JPEG with an EXIF thumbnail", exif, ""},
		{"JPEG padded with NUL bytes", append(bytes.Clone(j), make([]byte, 300)...), ""},
		{"restart markers, stuffed and fill bytes in the scan", restarts, ""},
		{"JPEG with a ZIP appended", append(bytes.Clone(j), zip...), KeyFileHiddenData},
		{"JPEG with one byte after EOI", append(bytes.Clone(j), 'x'), KeyFileHiddenData},
		{"EXIF JPEG with data after the real EOI", append(bytes.Clone(exif), "junk"...), KeyFileHiddenData},
		{"two JPEGs", append(bytes.Clone(j), j...), KeyFileHiddenData},
		{"JPEG with a PDF header in a comment", insertAfterSOI(j, com), KeyFileHiddenData},
		{"JPEG cut before EOI", j[:len(j)-2], KeyFileType},
		{"JPEG cut in the scan", j[:scanStart+10], KeyFileType},
		{"JPEG with junk between segments", insertAfterSOI(j, []byte("xx")), KeyFileType},
		{"JPEG with a second SOI", insertAfterSOI(j, []byte{0xFF, 0xD8}), KeyFileType},
		{"JPEG 10,001 pixels wide", jpegSize(t, j, 10001, 8), KeyFileImageTooLarge},
		{"JPEG 10,001 pixels high", jpegSize(t, j, 8, 10001), KeyFileImageTooLarge},
		{"JPEG of 5,001 × 5,000 pixels", jpegSize(t, j, 5001, 5000), KeyFileImageTooLarge},
		{"JPEG of 0 pixels high (DNL)", jpegSize(t, j, 8, 0), KeyFileType},
	})
}

func TestUploadPNGStructure(t *testing.T) {
	p := pngImage(t)
	iend := len(p) - 12
	withChunk := func(c []byte) []byte { return append(append(bytes.Clone(p[:iend]), c...), p[iend:]...) }
	idat := func(raw []byte) []byte {
		return pngFile(ihdr(3, 2, 8, 0, 0), pngChunk("IDAT", zlibBytes(raw)), pngChunk("IEND", nil))
	}
	rows := []byte("\x00abc\x01def") // 3×2 grey: filter type, three pixels
	badCRC := bytes.Clone(p)
	badCRC[20] ^= 1
	badAdler := zlibBytes(rows)
	badAdler[len(badAdler)-1] ^= 1
	// 3×3 grey, Adam7: passes 1, 4, 5, 6 (two rows), 7 are not empty.
	interlaced := []byte("\x00a" + "\x00b" + "\x00cd" + "\x00e\x00f" + "\x00ghi")
	split := zlibBytes(rows)
	runUploadCases(t, []uploadCase{
		{"PNG", p, ""},
		{"PNG padded with NUL bytes", append(bytes.Clone(p), 0, 0, 0), ""},
		{"PNG with an ancillary chunk", withChunk(pngChunk("tEXt", []byte("Title\x00Surat Kuasa"))), ""},
		{"hand-made PNG", idat(rows), ""},
		{"IDAT split in three chunks", pngFile(ihdr(3, 2, 8, 0, 0), pngChunk("IDAT", split[:3]), pngChunk("IDAT", split[3:9]), pngChunk("IDAT", split[9:]), pngChunk("IEND", nil)), ""},
		{"interlaced PNG", pngFile(ihdr(3, 3, 8, 0, 1), pngChunk("IDAT", zlibBytes(interlaced)), pngChunk("IEND", nil)), ""},
		{"PNG with data after IEND", append(bytes.Clone(p), "MZ"...), KeyFileHiddenData},
		{"PNG with a chunk after IEND", append(bytes.Clone(p), pngChunk("tEXt", []byte("a\x00b"))...), KeyFileHiddenData},
		{"PNG with more rows than its header", idat(append(bytes.Clone(rows), "\x00ghi"...)), KeyFileHiddenData},
		{"PNG with data after the zlib stream", pngFile(ihdr(3, 2, 8, 0, 0), pngChunk("IDAT", append(zlibBytes(rows), "hidden"...)), pngChunk("IEND", nil)), KeyFileHiddenData},
		{"PNG with a PDF header in a text chunk", withChunk(pngChunk("tEXt", []byte("c\x00%PDF-1.4"))), KeyFileHiddenData},
		{"PNG with fewer rows than its header", idat(rows[:4]), KeyFileType},
		{"PNG with a bad filter type", idat([]byte("\x05abc\x00def")), KeyFileType},
		{"PNG with a bad CRC", badCRC, KeyFileType},
		{"PNG with a bad Adler-32", pngFile(ihdr(3, 2, 8, 0, 0), pngChunk("IDAT", badAdler), pngChunk("IEND", nil)), KeyFileType},
		{"interlaced PNG one row short", pngFile(ihdr(3, 3, 8, 0, 1), pngChunk("IDAT", zlibBytes(interlaced[:len(interlaced)-4])), pngChunk("IEND", nil)), KeyFileType},
		{"PNG with an unknown critical chunk", withChunk(pngChunk("ZZZZ", nil)), KeyFileType},
		{"IDAT chunks not together", pngFile(ihdr(3, 2, 8, 0, 0), pngChunk("IDAT", split[:3]), pngChunk("tEXt", []byte("a\x00b")), pngChunk("IDAT", split[3:]), pngChunk("IEND", nil)), KeyFileType},
		{"PNG without IEND", p[:iend], KeyFileType},
		{"PNG with a bad bit depth", pngFile(ihdr(3, 2, 3, 0, 0), pngChunk("IDAT", zlibBytes(rows)), pngChunk("IEND", nil)), KeyFileType},
		{"palette PNG without a palette", pngFile(ihdr(3, 2, 8, 3, 0), pngChunk("IDAT", zlibBytes(rows)), pngChunk("IEND", nil)), KeyFileType},
	})
	// The hand-made files are what a real decoder takes.
	for _, f := range [][]byte{idat(rows), pngFile(ihdr(3, 3, 8, 0, 1), pngChunk("IDAT", zlibBytes(interlaced)), pngChunk("IEND", nil))} {
		if _, err := png.Decode(bytes.NewReader(f)); err != nil {
			t.Errorf("png.Decode of a test file: %v", err)
		}
	}
}

// TestUploadPixelCap: the dimensions are read from the header before the
// image is decoded, and a decompression bomb is refused for them.
func TestUploadPixelCap(t *testing.T) {
	bomb := zeroPNG(t, 7000, 7000, 8, 0) // 49 megapixels of black
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes, not a few tens of KB", len(bomb))
	}
	t.Logf("49-megapixel PNG: %d bytes", len(bomb))
	atCap := zeroPNG(t, 5000, 5000, 1, 0)
	paletted := image.NewPaletted(image.Rect(0, 0, 20, 10), color.Palette{color.White, color.Black})
	var pal bytes.Buffer
	if err := png.Encode(&pal, paletted); err != nil {
		t.Fatal(err)
	}
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 9, 7))
	var deep bytes.Buffer
	if err := png.Encode(&deep, rgba64); err != nil {
		t.Fatal(err)
	}
	runUploadCases(t, []uploadCase{
		{"49-megapixel PNG bomb", bomb, KeyFileImageTooLarge},
		{"PNG 10,001 pixels wide", zeroPNG(t, 10001, 1, 8, 0), KeyFileImageTooLarge},
		{"PNG 10,001 pixels high", zeroPNG(t, 1, 10001, 8, 0), KeyFileImageTooLarge},
		{"PNG claiming 5,000 × 5,001 pixels", pngClaiming(5000, 5001), KeyFileImageTooLarge},
		{"PNG claiming 2^31-1 × 2^31-1 pixels", pngClaiming(1<<31-1, 1<<31-1), KeyFileImageTooLarge},
		{"PNG claiming 2^32-1 pixels wide", pngClaiming(1<<32-1, 1), KeyFileType},
		{"PNG of exactly 25 megapixels, 10,000 wide", zeroPNG(t, 10000, 2500, 1, 0), ""},
		{"PNG of 5,000 × 5,000 pixels", atCap, ""},
		{"palette PNG", pal.Bytes(), ""},
		{"16-bit RGBA PNG", deep.Bytes(), ""},
	})
}
