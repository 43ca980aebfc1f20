package registration

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"regexp"
	"slices"
	"strings"
	"testing"

	"satupintu/registration/letterpdf"
	"satupintu/templates"
)

// minimalPDF is a complete one-page PDF (header, five objects, a correct
// cross-reference table and trailer), with extra inserted into the
// document catalog.
func minimalPDF(extra string) string { return buildPDF(extra, 0) }

// paddedPDF is minimalPDF with a comment line of pad bytes after the
// header, so tests can hit an exact file size with a well-formed file.
func paddedPDF(extra string, pad int) string { return buildPDF(extra, pad) }

// pdfWith is minimalPDF with more objects, numbered from 6.
func pdfWith(extra string, more ...string) string { return buildPDF(extra, 0, more...) }

// buildPDF is minimalPDF with a comment line of pad bytes after the header
// and the objects more after the five, numbered from 6.
func buildPDF(extra string, pad int, more ...string) string {
	comment := ""
	if pad > 0 {
		comment = strings.Repeat("p", pad)
	}
	objs := append(letterpdf.Objects(extra, "", "BT /F1 12 Tf 72 770 Td (Surat Kuasa) Tj ET"), more...)
	return letterpdf.File(comment, objs...)
}

// pdfOfSize returns a well-formed PDF of exactly size bytes.
func pdfOfSize(t *testing.T, size int) string {
	t.Helper()
	pad := size - len(paddedPDF("", 1)) + 1
	for range 3 { // the startxref number may grow a digit
		p := paddedPDF("", pad)
		if len(p) == size {
			return p
		}
		pad += size - len(p)
	}
	t.Fatalf("cannot build a PDF of %d bytes", size)
	return ""
}

func pngImage(t testing.TB) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegImage(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngClaiming is a PNG signature and a valid IHDR chunk declaring w×h
// pixels, with no image data: a decompression bomb's header.
func pngClaiming(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit grayscale
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// countingReader yields n bytes of 'a' and counts what it gave out.
type countingReader struct {
	n, read int
	calls   int
}

func (r *countingReader) Read(p []byte) (int, error) {
	r.calls++
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := min(len(p), r.n-r.read)
	for i := range k {
		p[i] = 'a'
	}
	r.read += k
	return k, nil
}

var errBroken = errors.New("multipart: NextPart: unexpected EOF")

// failingReader gives a PDF header and then breaks, as a cut-off multipart
// body does.
type failingReader struct{ done bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, errBroken
	}
	r.done = true
	return copy(p, "%PDF-1.4\n"), nil
}

func TestUploadAccepts(t *testing.T) {
	for _, c := range []struct {
		name     string
		data     []byte
		filename string
		wantType string
		wantName string
	}{
		{"minimal PDF", []byte(minimalPDF("")), "Surat Kuasa.pdf", TypePDF, "Surat_Kuasa.pdf"},
		{"PDF with trailing white space", []byte(minimalPDF("") + "\r\n \x00\n"), "a.pdf", TypePDF, "a.pdf"},
		{"PDF exactly 1 MB", []byte(pdfOfSize(t, MaxDocumentSize)), "big.pdf", TypePDF, "big.pdf"},
		{"PDF with a harmless name close to JS", []byte(minimalPDF("/JSX 1 /Info2 (x)")), "a.pdf", TypePDF, "a.pdf"},
		{"PDF named .png", []byte(minimalPDF("")), "scan.png", TypePDF, "scan.pdf"},
		{"PNG", pngImage(t), "scan.PNG", TypePNG, "scan.png"},
		{"JPEG", jpegImage(t), "foto.jpeg", TypeJPEG, "foto.jpg"},
		{"JPEG without a name", jpegImage(t), "", TypeJPEG, "surat-kuasa.jpg"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, err := ReadDocument(bytes.NewReader(c.data), c.filename)
			if err != nil {
				t.Fatalf("ReadDocument: %v", err)
			}
			sum := sha256.Sum256(c.data)
			if doc.ContentType != c.wantType || doc.FileName != c.wantName || !bytes.Equal(doc.Data, c.data) || doc.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("got type %q name %q sha %s (%d bytes); want %q %q", doc.ContentType, doc.FileName, doc.SHA256, len(doc.Data), c.wantType, c.wantName)
			}
		})
	}
}

func TestUploadRefuses(t *testing.T) {
	pdf := minimalPDF("")
	deep := strings.Replace(pdf, "(Surat Kuasa)", "(Surat Kuasa "+strings.Repeat(" ", 2000)+"<ScRiPt>alert(1)</script>)", 1)
	for _, c := range []struct {
		name string
		data string
		key  string
	}{
		{"empty", "", KeyFileEmpty},
		{"PDF of 1 MB + 1 byte", pdfOfSize(t, MaxDocumentSize+1), KeyFileTooLarge},
		{"executable renamed .pdf", "MZ\x90\x00\x03\x00\x00\x00" + strings.Repeat("\x00", 100), KeyFileType},
		{"ELF", "\x7fELF\x02\x01\x01" + strings.Repeat("\x00", 50), KeyFileType},
		{"shell script", "#!/bin/sh\nrm -rf /\n", KeyFileType},
		{"HTML renamed .pdf", "<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>", KeyFileType},
		{"HTML after white space", "\n  <html><script>alert(1)</script></html>", KeyFileType},
		{"HTML behind a BOM", "\xef\xbb\xbf<html></html>", KeyFileType},
		{"SVG", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, KeyFileType},
		{"zip (docx)", "PK\x03\x04\x14\x00\x06\x00" + strings.Repeat("\x00", 100), KeyFileType},
		{"plain text", "Surat Kuasa\nYang bertanda tangan di bawah ini", KeyFileType},
		{"PDF/HTML polyglot in the first KB", "%PDF-1.4\n<html><script>alert(1)</script></html>\n" + pdf[9:], KeyFileType},
		{"PDF with script beyond the first KB", deep, KeyFileType},
		{"PDF with a javascript: URI", minimalPDF("/URI (JavaScript:alert(1))"), KeyFileType},
		{"PDF header not at offset 0", "junk\n" + pdf, KeyFileType},
		{"PDF after white space", "\n" + pdf, KeyFileType},
		{"PDF header without version", "%PDF-x" + pdf[8:], KeyFileType},
		{"truncated PDF", pdf[:len(pdf)/2], KeyFileType},
		{"PDF with data after %%EOF", pdf + "MZ\x90\x00", KeyFileHiddenData},
		{"PDF without startxref", strings.Replace(pdf, "startxref", "startxxx", 1), KeyFileType},
		{"only the PDF magic", "%PDF-", KeyFileType},
		{"PDF with JavaScript", minimalPDF("/OpenAction << /S /JavaScript /JS (app.alert(1)) >>"), KeyFileActiveContent},
		{"PDF with /JS", minimalPDF("/AA << /O << /JS 6 0 R >> >>"), KeyFileActiveContent},
		{"PDF with hex-escaped /J#53", minimalPDF("/AA << /O << /J#53 6 0 R >> >>"), KeyFileActiveContent},
		{"PDF with hex-escaped /JavaScr#69pt", minimalPDF("/OpenAction << /S /JavaScr#69pt >>"), KeyFileActiveContent},
		{"PDF with a launch action", minimalPDF("/OpenAction << /S /Launch /F (cmd.exe) >>"), KeyFileActiveContent},
		{"PDF with an attachment", minimalPDF("/Names << /EmbeddedFiles 6 0 R >>"), KeyFileActiveContent},
		{"PDF with EICAR", minimalPDF("/Info (" + string(eicar) + ")"), KeyFileMalware},
		{"EICAR alone", string(eicar), KeyFileMalware},
		{"JPEG header only", "\xff\xd8\xff\xe0\x00\x10JFIF\x00" + strings.Repeat("\x00", 50), KeyFileType},
		{"PNG signature only", "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 50), KeyFileType},
		{"PNG claiming 100000×100000 pixels", string(pngClaiming(100000, 100000)), KeyFileImageTooLarge},
		{"GIF", "GIF89a\x01\x00\x01\x00\x00\x00\x00;", KeyFileType},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, err := ReadDocument(strings.NewReader(c.data), "x.pdf")
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != FieldDocument || fe.Key != c.key {
				t.Fatalf("ReadDocument = %v, want %s on %s", err, c.key, FieldDocument)
			}
			if doc.Data != nil || doc.ContentType != "" {
				t.Errorf("a refused document came back with content: %q", doc.ContentType)
			}
		})
	}
}

// TestUploadStopsEarly is the "10 MB body" case: the reader is not
// drained, only one byte past the limit is taken from it.
func TestUploadStopsEarly(t *testing.T) {
	r := &countingReader{n: 10 << 20}
	_, err := ReadDocument(r, "big.pdf")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != KeyFileTooLarge {
		t.Fatalf("ReadDocument = %v, want %s", err, KeyFileTooLarge)
	}
	if r.read != MaxDocumentSize+1 {
		t.Errorf("read %d bytes from the body, want %d", r.read, MaxDocumentSize+1)
	}
}

func TestUploadBrokenBody(t *testing.T) {
	_, err := ReadDocument(&failingReader{}, "x.pdf")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != KeyFileRead || fe.Field != FieldDocument {
		t.Fatalf("ReadDocument = %v, want %s", err, KeyFileRead)
	}
	if !errors.Is(err, errBroken) {
		t.Errorf("cause not wrapped: %v", err)
	}
}

func TestUploadSanitizeFileName(t *testing.T) {
	long := strings.Repeat("a", 300) + ".pdf"
	for _, c := range []struct {
		name, in, ct, want string
	}{
		{"plain", "surat-kuasa_2026.pdf", TypePDF, "surat-kuasa_2026.pdf"},
		{"spaces and parentheses", "Surat Kuasa (1).pdf", TypePDF, "Surat_Kuasa_1.pdf"},
		{"unix traversal", "../../etc/passwd.pdf", TypePDF, "passwd.pdf"},
		{"windows traversal", `..\..\x.pdf`, TypePDF, "x.pdf"},
		{"windows client path", `C:\Users\budi\Documents\kuasa.pdf`, TypePDF, "kuasa.pdf"},
		{"percent-encoded traversal is not decoded", "%2e%2e%2fetc%2fpasswd", TypePDF, "2e_2e_2fetc_2fpasswd.pdf"},
		{"double-encoded traversal", "%252e%252e%252f", TypePDF, "252e_252e_252f.pdf"},
		{"NUL byte", "x.exe\x00.pdf", TypePDF, "x.exe.pdf"},
		{"URL", "https://evil.example/a/b.pdf?x=1", TypePDF, "b.pdf"},
		{"URL without a name", "https://evil.example/", TypePDF, "surat-kuasa.pdf"},
		{"quotes and CRLF", "a\"b\r\nSet-Cookie: x=y.pdf", TypePDF, "a_b_Set-Cookie_x_y.pdf"},
		{"hidden file", ".htaccess", TypePDF, "surat-kuasa.pdf"},
		{"dot dot", "..", TypePDF, "surat-kuasa.pdf"},
		{"option-like", "-rf.pdf", TypePDF, "rf.pdf"},
		{"non-ASCII", "Surat Kuasa – PT Maju.pdf", TypePDF, "Surat_Kuasa_PT_Maju.pdf"},
		{"only non-ASCII", "委任状.pdf", TypePDF, "surat-kuasa.pdf"},
		{"extension follows the content", "scan.exe", TypePDF, "scan.pdf"},
		{"JPEG extension", "scan.JPEG", TypeJPEG, "scan.jpg"},
		{"PNG extension", "scan.pdf", TypePNG, "scan.png"},
		{"no extension", "kuasa", TypePDF, "kuasa.pdf"},
		{"windows device name", "CON.pdf", TypePDF, "_CON.pdf"},
		{"windows device name lpt", "lpt1.pdf", TypePDF, "_lpt1.pdf"},
		{"not a device name", "CONSOLE.pdf", TypePDF, "CONSOLE.pdf"},
		{"empty", "", TypePDF, "surat-kuasa.pdf"},
		{"long name is cut to 100", long, TypePDF, strings.Repeat("a", 96) + ".pdf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := SanitizeFileName(c.in, c.ct); got != c.want {
				t.Errorf("SanitizeFileName(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// TestUploadSanitizeFileNameInvariants throws hostile names at the function and
// checks what every result must satisfy.
func TestUploadSanitizeFileNameInvariants(t *testing.T) {
	safe := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,95}\.(pdf|jpg|png)$`)
	hostile := []string{
		"../../etc/passwd.pdf", `..\..\x.pdf`, "%2e%2e%2f", "\x00", "a\x00b", strings.Repeat("é", 500),
		"https://169.254.169.254/latest/meta-data", "file:///etc/passwd", `"; filename=evil.exe`,
		"\r\nContent-Type: text/html\r\n\r\n<script>", "....pdf", "./.", "/", `\`, "x.pdf.", "CON",
		strings.Repeat(".", 200) + "x", strings.Repeat("-_.", 100) + ".pdf", "\u202egnp.exe", "a/b\\c/d.pdf",
	}
	for _, ct := range []string{TypePDF, TypeJPEG, TypePNG} {
		for _, in := range hostile {
			got := SanitizeFileName(in, ct)
			if !safe.MatchString(got) || !strings.HasSuffix(got, extensions[ct]) {
				t.Errorf("SanitizeFileName(%q, %s) = %q", in, ct, got)
			}
		}
	}
}

func TestUploadContentDisposition(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		parsed         string // what a conforming client reads as the file name
	}{
		{"sanitized name", "surat-kuasa.pdf", `attachment; filename="surat-kuasa.pdf"; filename*=UTF-8''surat-kuasa.pdf`, "surat-kuasa.pdf"},
		{"quote", `a"b.pdf`, `attachment; filename="a_b.pdf"; filename*=UTF-8''a%22b.pdf`, `a"b.pdf`},
		{"CRLF header injection", "x\r\nSet-Cookie: a=b.pdf", `attachment; filename="xSet-Cookie_a_b.pdf"; filename*=UTF-8''xSet-Cookie%3A%20a%3Db.pdf`, "xSet-Cookie: a=b.pdf"},
		{"semicolon and backslash", `a;b\c.pdf`, `attachment; filename="c.pdf"; filename*=UTF-8''c.pdf`, "c.pdf"},
		{"semicolon", `a; filename=evil.exe`, `attachment; filename="a_filename_evil.exe"; filename*=UTF-8''a%3B%20filename%3Devil.exe`, "a; filename=evil.exe"},
		{"non-ASCII keeps its extension", "Laporan é.pdf", `attachment; filename="Laporan.pdf"; filename*=UTF-8''Laporan%20%C3%A9.pdf`, "Laporan é.pdf"},
		{"only non-ASCII", "委任状.pdf", `attachment; filename="surat-kuasa.pdf"; filename*=UTF-8''%E5%A7%94%E4%BB%BB%E7%8A%B6.pdf`, "委任状.pdf"},
		{"directory parts", "../../etc/passwd", `attachment; filename="passwd"; filename*=UTF-8''passwd`, "passwd"},
		{"bidi override is removed", "invoice\u202egnp.exe", `attachment; filename="invoicegnp.exe"; filename*=UTF-8''invoicegnp.exe`, "invoicegnp.exe"},
		{"empty", "", "attachment", ""},
		{"dots only", "..", "attachment", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ContentDisposition(c.in)
			if got != c.want {
				t.Errorf("ContentDisposition(%q) =\n %s\nwant\n %s", c.in, got, c.want)
			}
			if strings.ContainsAny(got, "\r\n\x00") || strings.Count(got, `"`)%2 != 0 {
				t.Errorf("unsafe header value %q", got)
			}
			disp, params, err := mime.ParseMediaType(got)
			if err != nil || disp != "attachment" || params["filename"] != c.parsed {
				t.Errorf("parsed back as %q %q %v, want filename %q", disp, params, err, c.parsed)
			}
		})
	}
	// Every document this package produces round-trips unchanged.
	name := SanitizeFileName("../Surat Kuasa \"PT A&B\".pdf", TypePDF)
	if _, params, _ := mime.ParseMediaType(ContentDisposition(name)); params["filename"] != name {
		t.Errorf("%q did not round-trip: %q", name, params["filename"])
	}
}

// TestUploadMessageKeys: every key the upload check adds is reached by a
// sample, shaped like the package's other keys, and has a text in both
// catalogs that states the limits the code enforces.
func TestUploadMessageKeys(t *testing.T) {
	pages, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`^reg\.error\.[a-z0-9_]+$`)
	reached := map[string]bool{}
	for _, s := range uploadSeeds(t) {
		reached[s.key] = true
	}
	for _, k := range UploadErrorKeys {
		if !key.MatchString(k) || slices.Contains(ErrorKeys, k) {
			t.Errorf("bad or duplicate key %q", k)
		}
		if !reached[k] {
			t.Errorf("no sample is refused with %q", k)
		}
		for _, lang := range []string{"id", "en"} {
			if msg := pages.T(lang, k); msg == k || strings.TrimSpace(msg) == "" {
				t.Errorf("%s catalog lacks %q", lang, k)
			}
		}
	}
	mp := MaxImagePixels / 1_000_000
	for lang, want := range map[string][]string{
		"en": {fmt.Sprintf("%d megapixels", mp), fmt.Sprintf("%d,%03d pixels", MaxImageSide/1000, MaxImageSide%1000)},
		"id": {fmt.Sprintf("%d megapiksel", mp), fmt.Sprintf("%d.%03d piksel", MaxImageSide/1000, MaxImageSide%1000)},
	} {
		msg := pages.T(lang, KeyFileImageTooLarge)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s text of %s does not say %q: %q", lang, KeyFileImageTooLarge, w, msg)
			}
		}
	}
}
