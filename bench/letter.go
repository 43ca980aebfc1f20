package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// scannedLetter is the power-of-attorney letter the registration scenario
// uploads: shaped like a one-page scan as scanners write it, about 1 MB (the
// wizard takes up to 1 MiB): a page whose content stream draws one JPEG
// image and a line of text. The image data is pseudo-random, like
// compressed pixels, and the upload's check leaves DCT data undecoded as
// it does a real scan's; it holds no "/" so that no stray byte run reads as
// a refused PDF name. TestScannedLetterIsAccepted runs the upload's check
// on it.
var scannedLetter = buildLetter(1_000_000)

func buildLetter(size int) []byte {
	const content = "q 595 0 0 842 0 0 cm /Im1 Do Q BT /F1 12 Tf 72 770 Td (Surat Kuasa) Tj ET"
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		"", // the image, sized below
	}
	const overhead = 1200 // everything but the image data, generously
	img := jpegLike(size - overhead)
	objects[5] = fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width 1654 /Height 2339 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream", len(img), img)
	var b strings.Builder
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return []byte(b.String())
}

// jpegLike is n bytes that start and end like a JPEG, with fixed
// pseudo-random bytes between (the same letter every run).
func jpegLike(n int) string {
	r := rand.New(rand.NewChaCha8([32]byte{'s', 'u', 'r', 'a', 't'}))
	b := make([]byte, n)
	for i := range b {
		c := byte(r.Uint32())
		if c == '/' || c == '<' || c == '%' {
			c = 'A'
		}
		b[i] = c
	}
	copy(b, "\xff\xd8\xff\xe0")
	copy(b[n-2:], "\xff\xd9")
	return string(b)
}
