package registration

import (
	"bytes"
	"compress/lzw"
	"compress/zlib"
	"encoding/ascii85"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// uploadKey returns the catalog key ReadDocument refuses data with, or ""
// when it accepts it.
func uploadKey(t testing.TB, data []byte) string {
	t.Helper()
	doc, err := ReadDocument(bytes.NewReader(data), "surat.pdf")
	if err == nil {
		return ""
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != FieldDocument {
		t.Fatalf("ReadDocument = %v, want a *FieldError on %s", err, FieldDocument)
	}
	if doc.Data != nil {
		t.Errorf("a refused document came back with content")
	}
	return fe.Key
}

type uploadCase struct {
	name string
	data []byte
	key  string // "" for accepted
}

func runUploadCases(t *testing.T, cases []uploadCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.data) > MaxDocumentSize {
				t.Fatalf("test file of %d bytes is over the limit", len(c.data))
			}
			if got := uploadKey(t, c.data); got != c.key {
				t.Errorf("refused with %q, want %q", got, c.key)
			}
		})
	}
}

func zlibBytes(b []byte) []byte {
	var out bytes.Buffer
	w, _ := zlib.NewWriterLevel(&out, zlib.BestSpeed)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// stream is a stream object with the dictionary entries dict (which name
// the filters, if any) and the encoded data.
func stream(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// flateStream is a FlateDecode stream of content.
func flateStream(dict string, content []byte) string {
	return stream(dict+" /Filter /FlateDecode", zlibBytes(content))
}

// objStm is the content and the /N /First entries of an object stream
// holding objs as objects 20, 21, … (PDF 32000-1 §7.5.7).
func objStm(objs ...string) (content []byte, dict string) {
	var head, body strings.Builder
	for i, o := range objs {
		fmt.Fprintf(&head, "%d %d ", 20+i, body.Len())
		body.WriteString(o + "\n")
	}
	first := head.Len() + 1
	return []byte(head.String() + "\n" + body.String()), fmt.Sprintf("/N %d /First %d", len(objs), first)
}

// jsAction is a JavaScript open action: what object streams hide.
const jsAction = "<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>"

func flateObjStm(typ string, objs ...string) string {
	content, dict := objStm(objs...)
	return flateStream(typ+" "+dict, content)
}

// asciiHex, ascii85 and runLength encode for the filters of those names.
func asciiHex(b []byte) []byte { return []byte(hex.EncodeToString(b) + ">") }

func ascii85Encode(b []byte) []byte {
	out := make([]byte, ascii85.MaxEncodedLen(len(b)))
	return append(out[:ascii85.Encode(out, b)], "~>"...)
}

func runLength(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		if len(b) >= 3 && b[0] == b[1] && b[1] == b[2] { // a run
			n := 1
			for n < len(b) && n < 128 && b[n] == b[0] {
				n++
			}
			out = append(out, byte(257-n), b[0])
			b = b[n:]
			continue
		}
		n := min(len(b), 128)
		out = append(out, byte(n-1))
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return append(out, 128)
}

// lzwEncode encodes data for LZWDecode with the given EarlyChange. The code
// width follows the decoder's table, which is one entry behind the
// encoder's; a clear code resets both before the table fills.
func lzwEncode(data []byte, early int) []byte {
	var (
		out   []byte
		acc   uint64
		nacc  uint
		width uint = 9
	)
	put := func(code int) {
		acc = acc<<width | uint64(code)
		nacc += width
		for nacc >= 8 {
			out = append(out, byte(acc>>(nacc-8)))
			nacc -= 8
		}
	}
	dict := map[string]int{}
	next, decNext, emitted := 258, 258, 0
	code := func(s string) int {
		if len(s) == 1 {
			return int(s[0])
		}
		return dict[s]
	}
	emit := func(c int) {
		put(c)
		if emitted++; emitted >= 2 && decNext < 4096 {
			decNext++
		}
		if decNext+early >= 1<<width && width < 12 {
			width++
		}
	}
	put(256)
	w := ""
	for _, c := range data {
		wc := w + string([]byte{c})
		if _, ok := dict[wc]; ok || len(wc) == 1 {
			w = wc
			continue
		}
		emit(code(w))
		dict[wc] = next
		next++
		if next >= 4000 {
			put(256)
			dict, next, decNext, emitted, width = map[string]int{}, 258, 258, 0, 9
		}
		w = string([]byte{c})
	}
	if w != "" {
		emit(code(w))
	}
	put(257)
	if nacc > 0 {
		out = append(out, byte(acc<<(8-nacc)))
	}
	return out
}

// lzwGo is compress/lzw's encoding, the late-change form (EarlyChange 0).
func lzwGo(data []byte) []byte {
	var b bytes.Buffer
	w := lzw.NewWriter(&b, lzw.MSB, 8)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// pngPredict applies PNG predictors to rows of columns bytes (one colour,
// 8 bits), cycling through the five filter types.
func pngPredict(data []byte, columns int) []byte {
	var out []byte
	prev := make([]byte, columns)
	for r := 0; len(data) > 0; r++ {
		row := data[:min(columns, len(data))]
		data = data[len(row):]
		tag := byte(r % 5)
		out = append(out, tag)
		for i, c := range row {
			var left, upLeft int
			if i > 0 {
				left, upLeft = int(row[i-1]), int(prev[i-1])
			}
			up := int(prev[i])
			switch tag {
			case 1:
				c -= byte(left)
			case 2:
				c -= byte(up)
			case 3:
				c -= byte((left + up) / 2)
			case 4:
				c -= paeth(left, up, upLeft)
			}
			out = append(out, c)
		}
		copy(prev, row)
	}
	return out
}

// tiffPredict applies TIFF predictor 2 to rows of columns bytes.
func tiffPredict(data []byte, columns int) []byte {
	out := bytes.Clone(data)
	for r := 0; r < len(data); r += columns {
		for i := r + 1; i < min(r+columns, len(data)); i++ {
			out[i] = data[i] - data[i-1]
		}
	}
	return out
}

// TestUploadPDFCompressedActions: names inside compressed streams, object
// streams above all, are found whatever the filters and escapes (issue 8
// item 10).
func TestUploadPDFCompressedActions(t *testing.T) {
	content, osDict := objStm("<< /Type /Annot /Subtype /Link >>", jsAction)
	lzwRoundTrip := func(early int) string {
		return stream(fmt.Sprintf("/Type /ObjStm %s /Filter /LZWDecode /DecodeParms << /EarlyChange %d >>", osDict, early), lzwEncode(content, early))
	}
	runUploadCases(t, []uploadCase{
		{"JavaScript in a Flate object stream", []byte(pdfWith("", flateObjStm("/Type /ObjStm", jsAction))), KeyFileActiveContent},
		{"hex-escaped names in an object stream", []byte(pdfWith("", flateObjStm("/Type /ObjStm", "<< /S /J#61vaScript /J#53 (x) >>"))), KeyFileActiveContent},
		{"hex-escaped /Type /Obj#53tm, abbreviated filter", []byte(pdfWith("", stream("/Type /Obj#53tm "+osDict+" /Filter /Fl", zlibBytes(content)))), KeyFileActiveContent},
		{"object stream without /Type", []byte(pdfWith("", flateObjStm("", jsAction))), KeyFileActiveContent},
		{"object stream typed as an image", []byte(pdfWith("", flateObjStm("/Subtype /Image /Width 1 /Height 1", jsAction))), KeyFileActiveContent},
		{"action dictionary in a Flate content stream", []byte(pdfWith("", flateStream("", []byte("q /S /JavaScript /JS (x) Q")))), KeyFileActiveContent},
		{"launch action in a Flate stream", []byte(pdfWith("", flateObjStm("/Type /ObjStm", "<< /S /Launch /F (cmd.exe) >>"))), KeyFileActiveContent},
		{"URI action in an object stream", []byte(pdfWith("", flateObjStm("/Type /ObjStm", "<< /S /URI /URI (https://evil.example/) >>"))), KeyFileLinks},
		{"submit-form action in an object stream", []byte(pdfWith("", flateObjStm("/Type /ObjStm", "<< /S /SubmitForm /F (https://evil.example/) >>"))), KeyFileLinks},
		{"JavaScript at a Flate chunk boundary", []byte(pdfWith("", flateObjStm("/Type /ObjStm", "<< /X ("+strings.Repeat("a", 32<<10-40)+") /S /JavaScript >>"))), KeyFileActiveContent},
		{"ASCII85 over Flate", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter [/ASCII85Decode /FlateDecode]", ascii85Encode(zlibBytes(content))))), KeyFileActiveContent},
		{"ASCIIHex", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter /AHx", asciiHex(content)))), KeyFileActiveContent},
		{"RunLength", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter /RunLengthDecode", runLength(content)))), KeyFileActiveContent},
		{"LZW, early change", []byte(pdfWith("", lzwRoundTrip(1))), KeyFileActiveContent},
		{"LZW, late change", []byte(pdfWith("", lzwRoundTrip(0))), KeyFileActiveContent},
		{"Flate with a PNG predictor", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 7 >>", zlibBytes(pngPredict(content, 7))))), KeyFileActiveContent},
		{"Flate with the TIFF predictor", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter /FlateDecode /DecodeParms << /Predictor 2 /Columns 5 >>", zlibBytes(tiffPredict(content, 5))))), KeyFileActiveContent},
		{"predictor parameters per filter", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter [/AHx /Fl] /DecodeParms [null << /Predictor 15 /Columns 3 >>]", asciiHex(zlibBytes(pngPredict(content, 3)))))), KeyFileActiveContent},
		{"EICAR in a Flate stream", []byte(pdfWith("", flateStream("", []byte("BT ("+string(eicar)+") Tj ET")))), KeyFileMalware},
		// An object stream hidden in the data of another stream is reached
		// through the cross-reference table; it is found and decoded too.
		{"object stream hidden in an image's data", []byte(pdfWith("", stream("/Type /XObject /Subtype /Image /Width 64 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8",
			[]byte("\x00\x01\n9 0 obj\n"+flateObjStm("/Type /ObjStm", jsAction)+"\nendobj\n")))), KeyFileActiveContent},
	})
}

// TestUploadPDFActions is the list of refused names, each written plainly
// and hex-escaped.
func TestUploadPDFActions(t *testing.T) {
	var cases []uploadCase
	for name, key := range pdfRefusedNames {
		escaped := fmt.Sprintf("#%02X", name[0]) + name[1:]
		cases = append(cases,
			uploadCase{"/" + name, []byte(minimalPDF("/X << /" + name + " 1 >>")), key},
			uploadCase{"/" + escaped, []byte(minimalPDF("/X [/" + escaped + "]")), key})
	}
	cases = append(cases,
		uploadCase{"open-URL link annotation", []byte(pdfWith("/Annots [6 0 R]", "<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (https://evil.example/) >> >>")), KeyFileLinks},
		uploadCase{"open action submitting a form", []byte(minimalPDF("/OpenAction << /S /SubmitForm /F << /FS /URL /F (https://evil.example/) >> >>")), KeyFileLinks},
		uploadCase{"open action importing data", []byte(minimalPDF("/OpenAction << /S /ImportData /F (x.fdf) >>")), KeyFileLinks},
		uploadCase{"remote go-to on a share", []byte(minimalPDF("/OpenAction << /S /GoToR /F (\\\\\\\\evil\\\\share\\\\x.pdf) /D [0 /Fit] >>")), KeyFileLinks},
		uploadCase{"additional actions", []byte(minimalPDF("/AA << /WC << /S /Named /N /Print >> >>")), KeyFileActiveContent},
		uploadCase{"XFA form", []byte(minimalPDF("/AcroForm << /Fields [] /XFA 6 0 R >>")), KeyFileActiveContent},
		uploadCase{"attachment annotation", []byte(pdfWith("/Annots [6 0 R]", "<< /Type /Annot /Subtype /FileAttachment /FS << /F (a.exe) /EF << /F 7 0 R >> >> >>")), KeyFileActiveContent},
		uploadCase{"encrypted", []byte(strings.Replace(minimalPDF(""), "/Root 1 0 R", "/Root 1 0 R /Encrypt << /Filter /Standard /V 1 /R 2 >>", 1)), KeyFileUncheckable},
		uploadCase{"a link and JavaScript: the more serious reason", []byte(minimalPDF("/OpenAction << /S /URI /URI (https://x.example/) /Next << /S /JavaScript /JS (x) >> >>")), KeyFileActiveContent},
	)
	runUploadCases(t, cases)
}

// TestUploadPDFUncheckable: a stream the check cannot decode, or decoding
// past the limits, refuses the file.
func TestUploadPDFUncheckable(t *testing.T) {
	content, osDict := objStm("<< /Type /Annot >>")
	good := zlibBytes(content)
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)/2] ^= 0xFF
	zeros := func(n int) []byte { return make([]byte, n) }
	many := func(n int, obj string) []string {
		objs := make([]string, n)
		for i := range objs {
			objs[i] = obj
		}
		return objs
	}
	nested := zlibBytes(zlibBytes(zeros(pdfMaxDecodedTotal + 1)))
	runUploadCases(t, []uploadCase{
		{"corrupt Flate data", []byte(pdfWith("", stream("/Filter /FlateDecode", corrupt))), KeyFileUncheckable},
		{"truncated Flate data", []byte(pdfWith("", stream("/Filter /FlateDecode", good[:len(good)-8]))), KeyFileUncheckable},
		{"Flate data without a zlib header", []byte(pdfWith("", stream("/Filter /FlateDecode", good[2:]))), KeyFileUncheckable},
		{"a stream over the per-stream limit", []byte(pdfWith("", flateStream("", zeros(pdfMaxDecoded+1)))), KeyFileUncheckable},
		{"over the ratio limit", []byte(pdfWith("", flateStream("", zeros(pdfRatioFloor+1)))), KeyFileUncheckable},
		{"nested Flate bomb", []byte(pdfWith("", stream("/Filter [/FlateDecode /FlateDecode]", nested))), KeyFileUncheckable},
		{"over the total limit in many streams", []byte(pdfWith("", many(pdfMaxDecodedTotal/pdfRatioFloor+1, flateStream("", zeros(pdfRatioFloor)))...)), KeyFileUncheckable},
		{"too many streams", []byte(pdfWith("", many(pdfMaxStreams+1, stream("/Filter /AHx", []byte("41>")))...)), KeyFileUncheckable},
		{"filter by reference", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter 7 0 R", good))), KeyFileUncheckable},
		{"parameters by reference", []byte(pdfWith("", stream("/Filter /FlateDecode /DecodeParms 7 0 R", good))), KeyFileUncheckable},
		{"parameters not matching the filters", []byte(pdfWith("", stream("/Filter [/FlateDecode] /DecodeParms << /Predictor 12 >>", good))), KeyFileUncheckable},
		{"Crypt filter", []byte(pdfWith("", stream("/Filter [/Crypt /FlateDecode]", good))), KeyFileUncheckable},
		{"unknown filter", []byte(pdfWith("", stream("/Filter /BrotliDecode", good))), KeyFileUncheckable},
		{"image codec on an object stream", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter /DCTDecode", good))), KeyFileUncheckable},
		{"unknown predictor", []byte(pdfWith("", stream("/Filter /FlateDecode /DecodeParms << /Predictor 7 >>", good))), KeyFileUncheckable},
		{"PNG predictor with a bad row tag", []byte(pdfWith("", stream("/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 2 >>", zlibBytes([]byte("\x07ab"))))), KeyFileUncheckable},
		{"bad ASCIIHex", []byte(pdfWith("", stream("/Filter /AHx", []byte("4x>")))), KeyFileUncheckable},
		{"bad ASCII85", []byte(pdfWith("", stream("/Filter /A85", []byte("abc{~>")))), KeyFileUncheckable},
		{"bad LZW code", []byte(pdfWith("", stream("/Filter /LZW", []byte{0x80, 0x7F, 0xFF, 0xFF}))), KeyFileUncheckable},
		{"duplicate /Filter", []byte(pdfWith("", stream("/Filter /AHx /Filter /FlateDecode", asciiHex(content)))), KeyFileUncheckable},
		{"stream without endstream", []byte(pdfWith("", "<< /Length 5 >>\nstream\nabc")), KeyFileUncheckable},
		// "stream" outside any object and outside any stream's data: a reader
		// might see a stream there that the check cannot place.
		{"stray stream keyword", []byte(pdfWith("", "(a) ]\n stream\n")), KeyFileUncheckable},
	})
}

// TestUploadPDFAccepts: honest letters are not refused for what the
// compressed content check looks at.
func TestUploadPDFAccepts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 200<<10)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	// Pixel data that happens to hold "/JS " and "/AA ": no reader parses an
	// image as objects.
	pixels := append([]byte("\xff\xfe /JS /AA /EF "), noise[:4096]...)
	content, osDict := objStm("<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /Dest [3 0 R /Fit] >>", "<< /Producer (Microsoft Word) >>")
	iccProfile := append([]byte("\x00\x00\x0c\x48Lino"), noise[:3000]...)
	xref := pngPredict([]byte("\x01\x00\x00\x10\x00\x01\x00\x00\x20\x00"), 5)
	letter := "BT /F1 12 Tf 72 770 Td (Nomor: 012/AA/JS/2026) Tj 0 -14 Td <4142> Tj ET\n% /JS in a comment\n"
	incremental := minimalPDF("")
	incremental += "1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Lang (id-ID) >>\nendobj\nxref\n1 1\n0000000000 00000 n \ntrailer\n<< /Size 6 /Root 1 0 R /Prev 9 >>\nstartxref\n" + fmt.Sprint(len(incremental)) + "\n%%EOF\n"
	runUploadCases(t, []uploadCase{
		{"harmless object stream", []byte(pdfWith("", flateObjStm("/Type /ObjStm", "<< /Type /Annot /Subtype /Link /Dest [3 0 R /Fit] >>"))), ""},
		{"object stream with a PNG predictor", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >>", zlibBytes(pngPredict(content, 4))))), ""},
		{"letter text with slashes in a Flate page", []byte(pdfWith("", flateStream("", []byte(letter)))), ""},
		{"Flate image whose pixels hold short names", []byte(pdfWith("", flateStream("/Type /XObject /Subtype /Image /Width 64 /Height 65 /ColorSpace /DeviceGray /BitsPerComponent 8", pixels))), ""},
		{"uncompressed image whose pixels hold short names", []byte(pdfWith("", stream("/Type /XObject /Subtype /Image /Width 64 /Height 65 /ColorSpace /DeviceGray /BitsPerComponent 8", pixels))), ""},
		{"JPEG image in a PDF", []byte(pdfWith("", stream("/Subtype /Image /Width 8 /Height 8 /Filter /DCTDecode", append([]byte("/JS "), noise[:2000]...)))), ""},
		{"ICC profile", []byte(pdfWith("", flateStream("/N 3 /Alternate /DeviceRGB", iccProfile))), ""},
		{"cross-reference stream with parameters readers disagree on", []byte(pdfWith("", stream("/Type /XRef /W [1 2 2] /Size 2 /Filter [/FlateDecode] /DecodeParms << /Columns 5 /Predictor 12 >>", zlibBytes(xref)))), ""},
		{"cross-reference stream", []byte(pdfWith("", stream("/Type /XRef /W [1 2 2] /Size 2 /Filter /FlateDecode /DecodeParms << /Columns 5 /Predictor 12 >>", zlibBytes(xref)))), ""},
		{"font program", []byte(pdfWith("", flateStream("/Length1 4096", noise[:4096]))), ""},
		{"a megabyte of Flate page", []byte(pdfWith("", flateStream("", bytes.Repeat([]byte("0 0 m 10 10 l S\n"), pdfRatioFloor/16)))), ""},
		{"open action to the first page", []byte(minimalPDF("/OpenAction [3 0 R /Fit] /PageMode /UseNone")), ""},
		{"the word stream in an uncompressed page", []byte(pdfWith("", stream("", []byte("BT (data stream\n) Tj ET")))), ""},
		{"incremental update: two %%EOF", []byte(incremental), ""},
		{"ASCII85 page", []byte(pdfWith("", stream("/Filter /A85", ascii85Encode([]byte(letter))))), ""},
		{"names longer than any refused one", []byte(minimalPDF("/JavaScriptJavaScriptJavaScriptJavaScript 1")), ""},
	})
}

// TestUploadPDFEnd: only white space may follow the last %%EOF, and no ZIP
// may hide anywhere its readers would find it.
func TestUploadPDFEnd(t *testing.T) {
	pdf := minimalPDF("")
	zip := "PK\x03\x04\x14\x00\x00\x00\x00\x00payload" + "PK\x01\x02" + strings.Repeat("\x00", 42) + "PK\x05\x06" + strings.Repeat("\x00", 18)
	runUploadCases(t, []uploadCase{
		{"white space after %%EOF", []byte(pdf + " \r\n\t\x00\f\n"), ""},
		{"a ZIP after %%EOF", []byte(pdf + zip), KeyFileHiddenData},
		{"a ZIP before a last %%EOF", []byte(pdf + zip + "\nstartxref\n0\n%%EOF\n"), KeyFileHiddenData},
		{"text after %%EOF", []byte(pdf + "x"), KeyFileHiddenData},
		{"%%EOF glued to more", []byte(pdf[:len(pdf)-1] + "junk\n"), KeyFileHiddenData},
		{"a second document after %%EOF", []byte(pdf + pdf[:len(pdf)-7]), KeyFileHiddenData},
	})
}

// TestUploadPDFDecoders checks the filters against independent encoders.
func TestUploadPDFDecoders(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	text := make([]byte, 6000)
	for i := range text {
		text[i] = "abcdefgh /<>()\n"[rng.IntN(15)]
	}
	random := make([]byte, 6000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	decode := func(filter string, parms map[string]pdfValue, encoded []byte) ([]byte, error) {
		var d pdfDecoder
		r, err := d.stage(0, filter, parms, bytes.NewReader(encoded))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	parms := func(kv ...int64) map[string]pdfValue {
		m := map[string]pdfValue{}
		keys := []string{"Predictor", "Columns", "Colors", "BitsPerComponent", "EarlyChange"}
		for i, v := range kv {
			if v >= 0 {
				m[keys[i]] = pdfValue{kind: pdfInt, num: v}
			}
		}
		return m
	}
	// The LZW example of PDF 32000-1 §7.4.4.2 (early change).
	if got, err := decode("LZW", nil, []byte{0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01}); err != nil || string(got) != "\x2d\x2d\x2d\x2d\x2d\x41\x2d\x2d\x2d\x42" {
		t.Errorf("LZW example: %x, %v", got, err)
	}
	for _, data := range [][]byte{text, random} {
		// Go's compress/lzw writes the late-change form, EarlyChange 0.
		if mine := lzwEncode(data[:2500], 0); !bytes.Equal(mine, lzwGo(data[:2500])) {
			t.Errorf("the test's LZW encoder disagrees with compress/lzw")
		}
		long := bytes.Repeat(data, 3) // past a full table and a clear code
		for _, c := range []struct {
			name, filter string
			parms        map[string]pdfValue
			encoded      []byte
			want         []byte
		}{
			{"compress/lzw", "LZW", parms(-1, -1, -1, -1, 0), lzwGo(long), long},
			{"LZW early change", "LZW", nil, lzwEncode(long, 1), long},
			{"LZW late change", "LZW", parms(-1, -1, -1, -1, 0), lzwEncode(long, 0), long},
			{"ASCII85", "A85", nil, ascii85Encode(data), data},
			{"ASCII85 with white space", "A85", nil, bytes.ReplaceAll(ascii85Encode(data), []byte("a"), []byte("a \n")), data},
			{"ASCIIHex", "AHx", nil, asciiHex(data), data},
			{"ASCIIHex odd", "AHx", nil, []byte("4 14>"), []byte("A@")}, // lone last digit: 0 follows
			{"RunLength", "RL", nil, runLength(append(bytes.Repeat([]byte{7}, 300), data...)), append(bytes.Repeat([]byte{7}, 300), data...)},
			{"Flate", "Fl", nil, zlibBytes(data), data},
			{"PNG predictor", "Fl", parms(14, 13), zlibBytes(pngPredict(data, 13)), data},
			{"TIFF predictor", "Fl", parms(2, 13), zlibBytes(tiffPredict(data, 13)), data},
		} {
			got, err := decode(c.filter, c.parms, c.encoded)
			if err != nil || !bytes.Equal(got, c.want) {
				t.Errorf("%s: %d bytes, %v; want %d bytes", c.name, len(got), err, len(c.want))
			}
		}
	}
}

// TestUploadPDFNameScanner checks the streaming name scanner against the
// same text fed whole and one byte at a time.
func TestUploadPDFNameScanner(t *testing.T) {
	text := []byte("/A/JS /J#53 (a /URI (b) \\) /AA) <</XFA 1>> <2F4A53> % /Launch\n/Ju#6e /#4A#53/#4G/JavaScript#")
	for _, c := range []struct {
		skipStrings bool
		want        string
	}{
		{false, "A JS JS URI AA XFA Launch Jun JS #4G JavaScript#"},
		{true, "A JS JS XFA Jun JS #4G JavaScript#"},
	} {
		for _, step := range []int{len(text), 1, 3} {
			var got []string
			s := nameScanner{skipStrings: c.skipStrings, onName: func(name []byte, _ int) { got = append(got, string(name)) }}
			for i := 0; i < len(text); i += step {
				s.write(text[i:min(i+step, len(text))])
			}
			s.flush()
			if strings.Join(got, " ") != c.want {
				t.Errorf("skipStrings %v, step %d: %q, want %q", c.skipStrings, step, strings.Join(got, " "), c.want)
			}
		}
	}
}

// sparseText is n bytes of '0' with a '1' about every hundredth byte:
// text that compresses about 100:1, under pdfMaxRatio, so a stream of it
// reaches the size limits before the ratio limit.
func sparseText(n int) []byte {
	rng := rand.New(rand.NewPCG(5, 6))
	b := bytes.Repeat([]byte("0"), n)
	for i := range b {
		if rng.IntN(100) == 0 {
			b[i] = '1'
		}
	}
	return b
}

// TestUploadPDFLimits: each decoding limit takes a file at the limit and
// refuses one just over it, for that limit and not another.
func TestUploadPDFLimits(t *testing.T) {
	many := func(n int, obj string) []string {
		objs := make([]string, n)
		for i := range objs {
			objs[i] = obj
		}
		return objs
	}
	zeros := make([]byte, pdfRatioFloor+1)
	tiny := stream("/Filter /AHx", []byte("41>"))
	perStream := sparseText(pdfMaxDecoded + 1)
	ratio := sparseText(pdfRatioFloor * 2)
	if r := len(ratio) / len(zlibBytes(ratio)); r > pdfMaxRatio {
		t.Fatalf("the ratio test's text compresses %d:1", r)
	}
	runUploadCases(t, []uploadCase{
		{"streams: at the limit", []byte(pdfWith("", many(pdfMaxStreams, tiny)...)), ""},
		{"streams: one over", []byte(pdfWith("", many(pdfMaxStreams+1, tiny)...)), KeyFileUncheckable},
		{"one stream: at the limit", []byte(pdfWith("", flateStream("", perStream[:pdfMaxDecoded]))), ""},
		{"one stream: one byte over", []byte(pdfWith("", flateStream("", perStream))), KeyFileUncheckable},
		{"ratio: the floor", []byte(pdfWith("", flateStream("", zeros[:pdfRatioFloor]))), ""},
		{"ratio: one byte over the floor at 1000:1", []byte(pdfWith("", flateStream("", zeros))), KeyFileUncheckable},
		{"ratio: twice the floor at 100:1", []byte(pdfWith("", flateStream("", ratio))), ""},
		{"total: at the limit", []byte(pdfWith("", many(pdfMaxDecodedTotal/pdfRatioFloor, flateStream("", zeros[:pdfRatioFloor]))...)), ""},
		{"total: one byte over", []byte(pdfWith("", append(many(pdfMaxDecodedTotal/pdfRatioFloor, flateStream("", zeros[:pdfRatioFloor])), flateStream("", []byte("x")))...)), KeyFileUncheckable},
	})
}
