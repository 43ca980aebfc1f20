package registration

import (
	"bytes"
	"strings"
	"testing"
)

// uploadWorstCases are files that push the check to one of its limits:
// what one upload can cost the server at most.
func uploadWorstCases(tb testing.TB) []uploadCase {
	many := func(n int, obj string) []string {
		objs := make([]string, n)
		for i := range objs {
			objs[i] = obj
		}
		return objs
	}
	zeros := make([]byte, pdfRatioFloor)
	names := bytes.Repeat([]byte("/JQ"), pdfRatioFloor/3)
	return []uploadCase{
		{"PDF: the most streams", []byte(pdfWith("", many(pdfMaxStreams, stream("/Filter /AHx", []byte("41>")))...)), ""},
		{"PDF: the most decoding", []byte(pdfWith("", many(pdfMaxDecodedTotal/pdfRatioFloor, flateStream("", zeros))...)), ""},
		{"PDF: decoded names only", []byte(pdfWith("", many(pdfMaxDecodedTotal/pdfRatioFloor, flateStream("/Type /ObjStm /N 1", names))...)), ""},
		{"PDF: raw names only", []byte(pdfWith("", strings.Repeat("/JQ", (MaxDocumentSize-2000)/3))), ""},
		{"PDF: stream keywords in a stream", []byte(pdfWith("", stream("", bytes.Repeat([]byte(" stream\n"), (MaxDocumentSize-2000)/8)))), ""},
		{"PDF: a huge stream dictionary", []byte(pdfWith("", "<< /A ["+strings.Repeat("<</a 1/b[1 2]>> ", (MaxDocumentSize-2000)/16)+"] /Length 0 >>\nstream\n\nendstream")), ""},
		{"PNG: 25 megapixels of 16-bit RGBA", zeroPNG(tb, 5000, 5000, 16, 6), ""},
	}
}

func BenchmarkUploadWorstCase(b *testing.B) {
	for _, c := range uploadWorstCases(b) {
		if len(c.data) > MaxDocumentSize {
			b.Fatalf("%s: %d bytes", c.name, len(c.data))
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				checkContent(c.data)
			}
		})
	}
}
