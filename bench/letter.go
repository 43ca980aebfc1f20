package bench

import (
	"math/rand/v2"

	"satupintu/registration/letterpdf"
)

// letterSize is the size of the letter the registration scenario uploads
// (the wizard takes up to 1 MiB).
const letterSize = 1_000_000

// buildLetter makes the power-of-attorney letter the registration scenario
// uploads, built when the scenario starts (not at program start: every
// satupintu process would carry it): shaped like a one-page scan as
// scanners write it, a page whose content stream draws one JPEG image and
// a line of text. The image data is pseudo-random, like compressed pixels,
// and the upload's check leaves DCT data undecoded as it does a real
// scan's; it holds no "/" so that no stray byte run reads as a refused PDF
// name. TestScannedLetterIsAccepted runs the upload's check on it.
func buildLetter(size int) []byte {
	const content = "q 595 0 0 842 0 0 cm /Im1 Do Q BT /F1 12 Tf 72 770 Td (Surat Kuasa) Tj ET"
	const overhead = 1200 // everything but the image data, generously
	image := letterpdf.Stream("/Type /XObject /Subtype /Image /Width 1654 /Height 2339 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode",
		jpegLike(size-overhead))
	return []byte(letterpdf.File("", append(letterpdf.Objects("", "/XObject << /Im1 6 0 R >>", content), image)...))
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
