package registration

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"mime"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz targets of this package, run by CI for a short time each:
//
//	go test ./registration -run '^$' -fuzz '^FuzzUploadCheck$' -fuzztime 30s
//
// Their seeds are the f.Add calls and the files under testdata/fuzz/<name>,
// which plain `go test` runs as well. Those files are written by
// TestFuzzSeedCorpus from the generators in the tests:
//
//	go test ./registration -run '^TestFuzzSeedCorpus$' -update-corpus

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed files under testdata/fuzz")

// uploadAllocBound is the most one check may allocate. The worst files
// (BenchmarkUploadWorstCase) allocate under 10 MB; decoding into memory
// instead of scanning as it streams would take 16 MB or more on a bomb.
const uploadAllocBound = 48 << 20

// uploadSeed is a sample upload and the key it is refused with ("" for
// accepted).
type uploadSeed struct {
	name string
	data []byte
	key  string
}

// uploadSeeds are small valid and malicious samples of every format.
func uploadSeeds(tb testing.TB) []uploadSeed {
	content, osDict := objStm("<< /Type /Annot /Subtype /Link /Dest [3 0 R /Fit] >>")
	js, jsDict := objStm(jsAction)
	jpg, pngData := jpegImage(tb), pngImage(tb)
	zip := "PK\x03\x04\x14\x00\x00\x00payload" + "PK\x05\x06" + strings.Repeat("\x00", 18)
	return []uploadSeed{
		{"pdf-minimal", []byte(minimalPDF("")), ""},
		{"pdf-objstm", []byte(pdfWith("", flateStream("/Type /ObjStm "+osDict, content))), ""},
		{"pdf-objstm-png-predictor", []byte(pdfWith("", stream("/Type /ObjStm "+osDict+" /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >>", zlibBytes(pngPredict(content, 4))))), ""},
		{"pdf-page-a85-lzw-rl-ahx", []byte(pdfWith("",
			stream("/Filter [/A85 /Fl]", ascii85Encode(zlibBytes([]byte("BT (Nomor 1/AA/2026) Tj ET")))),
			stream("/Filter /LZWDecode", lzwEncode([]byte("q 1 0 0 1 0 0 cm Q q 1 0 0 1 0 0 cm Q"), 1)),
			stream("/Filter /RL", runLength([]byte("BT (aaaaaaaaaaaaaaaa) Tj ET"))),
			stream("/Filter /AHx /DecodeParms null", asciiHex([]byte("0 g 0 G"))))), ""},
		{"pdf-image", []byte(pdfWith("", flateStream("/Subtype /Image /Width 4 /Height 2 /BitsPerComponent 8 /ColorSpace /DeviceGray", []byte("/JS /AA ")))), ""},
		{"pdf-objstm-js", []byte(pdfWith("", flateStream("/Type /ObjStm "+jsDict, js))), KeyFileActiveContent},
		{"pdf-objstm-js-tiff-predictor", []byte(pdfWith("", stream("/Type /ObjStm "+jsDict+" /Filter /Fl /DecodeParms << /Predictor 2 /Columns 6 >>", zlibBytes(tiffPredict(js, 6))))), KeyFileActiveContent},
		{"pdf-hex-escaped-js", []byte(minimalPDF("/OpenAction << /S /J#61vaScript /J#53 (x) >>")), KeyFileActiveContent},
		{"pdf-uri", []byte(minimalPDF("/OpenAction << /S /URI /URI (https://evil.example/) >>")), KeyFileLinks},
		{"pdf-submitform-in-objstm", []byte(pdfWith("", flateObjStm("/Type /ObjStm", "<< /S /SubmitForm /F (https://evil.example/) >>"))), KeyFileLinks},
		{"pdf-launch", []byte(minimalPDF("/OpenAction << /S /Launch /F (cmd.exe) >>")), KeyFileActiveContent},
		{"pdf-hidden-objstm", []byte(pdfWith("", stream("/Subtype /Image /Width 8 /Height 1", []byte("\x00\n9 0 obj\n"+flateStream("/Type /ObjStm "+jsDict, js)+"\nendobj\n")))), KeyFileActiveContent},
		{"pdf-nested-flate-bomb", []byte(pdfWith("", stream("/Filter [/Fl /Fl]", zlibBytes(zlibBytes(make([]byte, 4<<20)))))), KeyFileUncheckable},
		{"pdf-encrypted", []byte(strings.Replace(minimalPDF(""), "/Root 1 0 R", "/Root 1 0 R /Encrypt 9 0 R", 1)), KeyFileUncheckable},
		{"pdf-zip-after-eof", []byte(minimalPDF("") + zip), KeyFileHiddenData},
		{"pdf-data-after-eof", []byte(minimalPDF("") + "MZ"), KeyFileHiddenData},
		{"jpeg", jpg, ""},
		{"jpeg-exif-thumbnail", jpegEXIF(tb), ""},
		{"jpeg-zip-appended", append(bytes.Clone(jpg), zip...), KeyFileHiddenData},
		{"jpeg-data-after-eoi", append(bytes.Clone(jpg), "\xff\xd8junk"...), KeyFileHiddenData},
		{"png", pngData, ""},
		{"png-interlaced", pngFile(ihdr(3, 3, 8, 0, 1), pngChunk("IDAT", zlibBytes([]byte("\x00a\x00b\x00cd\x00e\x00f\x00ghi"))), pngChunk("IEND", nil)), ""},
		{"png-data-after-iend", append(bytes.Clone(pngData), "PK"...), KeyFileHiddenData},
		{"png-bomb-header", pngClaiming(7000, 7000), KeyFileImageTooLarge},
		{"png-too-wide", zeroPNG(tb, 10001, 1, 8, 0), KeyFileImageTooLarge},
		{"eicar", eicar, KeyFileMalware},
		{"html", []byte("<html><script>alert(1)</script></html>"), KeyFileType},
	}
}

// FuzzUploadCheck: on any bytes the content check never panics, stays
// within its allocation bound, answers the same twice, answers with one of
// the package's keys, and what it accepts really is a PDF, JPEG or PNG
// within the limits.
func FuzzUploadCheck(f *testing.F) {
	for _, s := range uploadSeeds(f) {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxDocumentSize {
			return // ReadDocument never passes more on
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ct, key := checkContent(data)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uploadAllocBound {
			t.Errorf("the check allocated %d bytes, bound %d", alloc, uploadAllocBound)
		}
		if (ct == "") == (key == "") {
			t.Fatalf("checkContent = %q, %q: want a type or a key", ct, key)
		}
		if ct2, key2 := checkContent(data); ct2 != ct || key2 != key {
			t.Fatalf("unstable: %q %q, then %q %q", ct, key, ct2, key2)
		}
		if key != "" && !slices.Contains(ErrorKeys, key) && !slices.Contains(UploadErrorKeys, key) {
			t.Fatalf("unknown key %q", key)
		}
		doc, err := ReadDocument(bytes.NewReader(data), "x")
		if len(data) > 0 && (err == nil) != (ct != "") || err == nil && doc.ContentType != ct {
			t.Fatalf("ReadDocument = %q, %v; checkContent = %q, %q", doc.ContentType, err, ct, key)
		}
		if ct != "" {
			checkAccepted(t, data, ct)
		}
	})
}

// checkAccepted checks what an accepted file must be, by other means than
// the check itself.
func checkAccepted(t *testing.T, data []byte, ct string) {
	if bytes.Contains(data, eicar) || hasZipEnd(data) {
		t.Fatalf("accepted with EICAR or a ZIP end record")
	}
	var decode func([]byte) (image.Config, error)
	switch ct {
	case TypePDF:
		// A refused name of three letters or more, written plainly, is
		// refused wherever it is.
		for name := range pdfRefusedNames {
			if len(name) < 3 {
				continue
			}
			for i := 0; ; {
				k := bytes.Index(data[i:], []byte("/"+name))
				if k < 0 {
					break
				}
				i += k + 1 + len(name)
				if i == len(data) || pdfDelimiter(data[i]) {
					t.Fatalf("accepted a PDF with /%s", name)
				}
			}
		}
		return
	case TypeJPEG:
		decode = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
	case TypePNG:
		decode = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
	default:
		t.Fatalf("accepted as %q", ct)
	}
	cfg, err := decode(data)
	if err != nil || cfg.Width > MaxImageSide || cfg.Height > MaxImageSide || cfg.Width*cfg.Height > MaxImagePixels {
		t.Fatalf("accepted a %s of %d×%d: %v", ct, cfg.Width, cfg.Height, err)
	}
}

// FuzzUploadFileName: whatever name a browser sends, the stored name is
// safe, stable when sanitized again, and the download header carries no
// header syntax of the name's own and parses back to an attachment.
func FuzzUploadFileName(f *testing.F) {
	for _, s := range fileNameSeeds {
		f.Add(s)
	}
	safe := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,95}\.(pdf|jpg|png)$`)
	f.Fuzz(func(t *testing.T, name string) {
		for _, ct := range []string{TypePDF, TypeJPEG, TypePNG} {
			got := SanitizeFileName(name, ct)
			if !safe.MatchString(got) || !strings.HasSuffix(got, extensions[ct]) {
				t.Fatalf("SanitizeFileName(%q, %s) = %q", name, ct, got)
			}
			if again := SanitizeFileName(got, ct); again != got {
				t.Fatalf("SanitizeFileName(%q) = %q, then %q", name, got, again)
			}
			if _, params, err := mime.ParseMediaType(ContentDisposition(got)); err != nil || params["filename"] != got {
				t.Fatalf("%q does not round-trip: %q %v", got, params["filename"], err)
			}
		}
		h := ContentDisposition(name)
		if strings.ContainsAny(h, "\r\n\x00") || !utf8.ValidString(h) {
			t.Fatalf("ContentDisposition(%q) = %q", name, h)
		}
		if disp, _, err := mime.ParseMediaType(h); err != nil || disp != "attachment" {
			t.Fatalf("ContentDisposition(%q) = %q parses as %q, %v", name, h, disp, err)
		}
	})
}

var fileNameSeeds = []string{
	"Surat Kuasa (1).pdf", "../../etc/passwd.pdf", `..\..\x.pdf`, "%2e%2e%2f", "x.exe\x00.pdf",
	"a\"b\r\nSet-Cookie: x=y.pdf", "CON.pdf", "委任状.pdf", "invoice\u202egnp.exe", "", "..", "\xff\xfe.pdf",
	strings.Repeat("a", 300) + ".pdf",
}

// corpusFile is a seed file in the format of `go test -fuzz` (its
// testdata/fuzz/<target>/<name> files): a version line and one Go literal
// per argument.
func corpusFile(args ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		default:
			panic(fmt.Sprintf("corpusFile: %T", a))
		}
	}
	return []byte(b.String())
}

// parseCorpusFile reads the arguments of a seed file written by corpusFile.
func parseCorpusFile(b []byte) ([]any, error) {
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) == 0 || lines[0] != "go test fuzz v1" {
		return nil, fmt.Errorf("not a fuzz seed file")
	}
	var args []any
	for _, l := range lines[1:] {
		for _, typ := range []string{"[]byte", "string"} {
			lit, ok := strings.CutPrefix(l, typ+"(")
			if !ok || !strings.HasSuffix(lit, ")") {
				continue
			}
			s, err := strconv.Unquote(lit[:len(lit)-1])
			if err != nil {
				return nil, err
			}
			if typ == "string" {
				args = append(args, s)
			} else {
				args = append(args, []byte(s))
			}
			break
		}
	}
	if len(args) != len(lines)-1 {
		return nil, fmt.Errorf("a line is neither []byte nor string")
	}
	return args, nil
}

// corpusSeed is one committed seed file: its target, name and arguments,
// and what the target's function must answer for it (checked by
// TestFuzzSeedCorpus, so a seed labelled malicious stays malicious).
type corpusSeed struct {
	target, name string
	args         []any
	check        func(args []any) error
}

func corpusSeeds(tb testing.TB) []corpusSeed {
	var seeds []corpusSeed
	for _, s := range uploadSeeds(tb) {
		want := s.key
		seeds = append(seeds, corpusSeed{"FuzzUploadCheck", s.name, []any{s.data}, func(args []any) error {
			if _, key := checkContent(args[0].([]byte)); key != want {
				return fmt.Errorf("checkContent key %q, want %q", key, want)
			}
			return nil
		}})
	}
	for i, s := range fileNameSeeds[:6] {
		seeds = append(seeds, corpusSeed{"FuzzUploadFileName", fmt.Sprintf("name-%d", i), []any{s}, func([]any) error { return nil }})
	}
	return append(seeds, validatorSeeds()...)
}

// TestFuzzSeedCorpus checks the committed seed files: each exists, parses,
// and still means what its name says. -update-corpus rewrites them from
// the generators (byte-for-byte comparison would tie the files to one
// version of compress/flate, so only the meaning is compared).
func TestFuzzSeedCorpus(t *testing.T) {
	for _, s := range corpusSeeds(t) {
		path := filepath.Join("testdata", "fuzz", s.target, s.name)
		if *updateCorpus {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, corpusFile(s.args...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test ./registration -run '^TestFuzzSeedCorpus$' -update-corpus)", err)
			continue
		}
		args, err := parseCorpusFile(b)
		if err == nil && len(args) != len(s.args) {
			err = fmt.Errorf("%d arguments, want %d", len(args), len(s.args))
		}
		for i := 0; err == nil && i < len(args); i++ {
			if fmt.Sprintf("%T", args[i]) != fmt.Sprintf("%T", s.args[i]) {
				err = fmt.Errorf("argument %d is %T, want %T", i, args[i], s.args[i])
			}
		}
		if err == nil {
			err = s.check(args)
		}
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
